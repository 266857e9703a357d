import { cgroupVrf, observeService } from '../../../../src/vrf/services/observe.js';
import { renderServiceDropIn } from '../../../../src/vrf/services/dropin.js';
import { show } from './fixtures.js';

describe('cgroupVrf', () => {
  it.each([
    ['0::/system.slice/chrony.service/vrf/public\n', 'public'],
    ['12:pids:/x\n0::/system.slice/chrony.service/vrf/storage-2\n', 'storage-2'],
    ['0::/system.slice/chrony.service\n', ''],
    ['0::/vrf/storage/more\n', ''],
    ['1:name=systemd:/vrf/x\n', ''],
    ['', ''],
  ])('%j → %j', (text, vrf) => expect(cgroupVrf(text)).toBe(vrf));
});

describe('observeService', () => {
  const fragment = {
    path: '/lib/systemd/system/chrony.service',
    text: '[Service]\nExecStart=/usr/sbin/chronyd -F 1\n',
  };
  const rendered = renderServiceDropIn({
    unit: 'chrony.service',
    vrf: 'public',
    execStart: ['/usr/sbin/chronyd -F 1'],
  });
  const ours = rendered.ok ? { path: `/${rendered.path}`, text: rendered.content } : fragment;

  it("takes the unit's own lines without vrf-host's drop-in, the drop-in's content, and the main process's VRF", () => {
    expect(
      observeService({
        show: show(),
        files: [fragment, ours],
        mainCgroup: '0::/system.slice/chrony.service/vrf/public\n',
        dirExists: true,
      }),
    ).toEqual({
      show: show(),
      execStart: ['/usr/sbin/chronyd -F 1'],
      dropIn: ours.text,
      dirExists: true,
      processVrf: 'public',
    });
  });

  it('no main process: its VRF is unknown, not the default', () => {
    const o = observeService({ show: show({ MainPID: 0 }), files: [fragment], mainCgroup: null, dirExists: false });
    expect(o.processVrf).toBeUndefined();
    expect(o.dropIn).toBeNull();
    expect(
      observeService({ show: show(), files: [fragment], mainCgroup: null, dirExists: false }).processVrf,
    ).toBeUndefined();
  });
});
