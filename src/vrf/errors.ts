/**
 * The base of every error the VRF domain throws. A subclass only names itself
 * (`override name = 'RenderError'`) and adds its own fields; message and cause
 * go through here.
 */
export class VrfError extends Error {
  override name = 'VrfError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
