/**
 * The base of every error the charm's glue throws. A subclass only names itself
 * (`override name = 'TeardownError'`); message and cause go through here.
 */
export class CharmError extends Error {
  override name = 'CharmError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
