import fc from 'fast-check';
import {
  DropInError,
  renderServiceDropIn,
  serviceDropInPath,
  wrapExecStart,
} from '../../../../src/vrf/services/dropin.js';
import { listSetting, logicalLines, ownExecStart } from '../../../../src/vrf/services/unit-file.js';

const CHRONY = `[Unit]
Description=chrony, an NTP client/server
# ExecStart=/not/this

[Service]
Type=forking
PIDFile=/run/chrony/chronyd.pid
EnvironmentFile=-/etc/default/chrony
ExecStart=!/usr/sbin/chronyd $DAEMON_OPTS \\
  -F 1
ExecStartPost=-/usr/lib/chrony/chrony-helper update-daemon
`;

describe('unit files', () => {
  it('joins continued lines and drops comments, also inside a continuation', () => {
    expect(logicalLines('a=1 \\\n# note\n  2\n; c\n\n[S]\nb=x\\\n')).toEqual(['a=1 2', '[S]', 'b=x']);
  });

  it('reads a unit file with CRLF line ends as systemd does: a backslash before \\r\\n still continues', () => {
    expect(logicalLines('a=1 \\\r\n  2\r\n[S]\r\nb=x\r\n')).toEqual(['a=1 2', '[S]', 'b=x']);
  });

  it('an empty assignment resets the list, across the fragment and its drop-ins, in order', () => {
    const files = [
      { path: '/lib/systemd/system/x.service', text: '[Service]\nExecStart=/bin/a\n' },
      { path: '/etc/systemd/system/x.service.d/10-a.conf', text: '[Service]\nExecStart=\nExecStart=/bin/b 1\n' },
      {
        path: '/etc/systemd/system/x.service.d/20-b.conf',
        text: '[Unit]\nExecStart=/not/service\n[Service]\nExecStart=/bin/c\n',
      },
    ];
    expect(listSetting(files, 'Service', 'ExecStart')).toEqual(['/bin/b 1', '/bin/c']);
  });

  it("reads the unit's own lines without vrf-host's drop-in", () => {
    const own = { path: '/lib/systemd/system/chrony.service', text: CHRONY };
    expect(ownExecStart([own], '/x')).toEqual(['!/usr/sbin/chronyd $DAEMON_OPTS -F 1']);
    const r = renderServiceDropIn({ unit: 'chrony.service', vrf: 'public', execStart: ownExecStart([own], '/x') });
    if (!r.ok) throw new Error(r.problem);
    const ours = { path: `/${r.path}`, text: r.content };
    expect(ownExecStart([own, ours], `/${r.path}`)).toEqual(['!/usr/sbin/chronyd $DAEMON_OPTS -F 1']);
    expect(listSetting([own, ours], 'Service', 'ExecStart')).toEqual([
      '!/usr/sbin/ip vrf exec public /usr/sbin/chronyd $DAEMON_OPTS -F 1',
    ]);
  });
});

describe('renderServiceDropIn', () => {
  it('renders the drop-in: ordering after the boot unit, ExecStart cleared then every line wrapped', () => {
    const r = renderServiceDropIn({
      unit: 'backup@storage.service',
      vrf: 'storage',
      execStart: ['-/usr/bin/agent --once %i', ':/bin/echo $NOT_EXPANDED'],
    });
    expect(r).toEqual({
      ok: true,
      path: 'etc/systemd/system/backup@storage.service.d/50-vrf-host-vrf.conf',
      content: `# Managed by vrf-host: runs backup@storage.service inside the VRF storage. Do not edit: vrf-host rewrites it,
# and removes it (then restarts the unit back into the default VRF) when the unit leaves its services option.
[Unit]
Wants=vrf-host.service
After=vrf-host.service

[Service]
ExecStart=
ExecStart=-/usr/sbin/ip vrf exec storage /usr/bin/agent --once %i
ExecStart=:/usr/sbin/ip vrf exec storage /bin/echo $NOT_EXPANDED
`,
    });
  });

  it.each([
    [{ execStart: [] }, 'has no ExecStart= to run in the VRF'],
    [{ execStart: ['@/usr/bin/x my-x'] }, "sets its own argv[0] ('@')"],
    [{ execStart: ['-'] }, 'has no command'],
    [{ execStart: ['/bin/a\n[Service]'] }, 'line break'],
    [{ vrf: 'Main' }, 'VRF name "Main" must be lowercase'],
    [{ unit: 'jujud-machine-0.service' }, "unit name is Juju's agent"],
  ])('refuses %j: %s', (over, why) => {
    const r = renderServiceDropIn({ unit: 'x.service', vrf: 'storage', execStart: ['/bin/true'], ...over });
    expect(r.ok ? '' : r.problem).toContain(why);
  });

  it('refuses an ip path that is not plain, and a bad unit name for a path', () => {
    expect(() => renderServiceDropIn({ unit: 'x.service', vrf: 's', execStart: ['/a'], ipPath: 'ip' })).toThrow(
      DropInError,
    );
    expect(() => serviceDropInPath('../x.service')).toThrow(DropInError);
  });

  it('keeps every systemd prefix in front of ip', () => {
    for (const p of ['-', ':', '+', '!', '!!', '-:', '-!!']) {
      expect(wrapExecStart(`${p}/bin/x a`, 'v')).toEqual({ ok: true, line: `${p}/usr/sbin/ip vrf exec v /bin/x a` });
    }
  });

  const word = fc.stringMatching(/^[A-Za-z0-9_.=%$/-]{1,12}$/);
  const execLine = fc
    .record({
      prefix: fc.constantFrom('', '-', ':', '+', '!', '!!', '-:', ':-'),
      path: fc.stringMatching(/^(\/[a-z0-9_.-]{1,8}){1,3}$/),
      args: fc.array(word, { maxLength: 5 }),
    })
    .map(({ prefix, path, args }) => [`${prefix}${path}`, ...args].join(' '));

  it('property: read back through systemd list semantics, the drop-in runs every original line, in order, under ip vrf exec, and nothing else', () => {
    fc.assert(
      fc.property(
        fc.array(execLine, { minLength: 1, maxLength: 4 }),
        fc.constantFrom('storage', 'mgmt-2', 'x'),
        (lines, vrf) => {
          const unit = {
            path: '/lib/systemd/system/u.service',
            text: `[Service]\nType=oneshot\n${lines.map((l) => `ExecStart=${l}`).join('\n')}\n`,
          };
          expect(ownExecStart([unit], '/none')).toEqual(lines);
          const r = renderServiceDropIn({ unit: 'u.service', vrf, execStart: lines });
          if (!r.ok) throw new Error(r.problem);
          const effective = listSetting([unit, { path: `/${r.path}`, text: r.content }], 'Service', 'ExecStart');
          expect(effective).toHaveLength(lines.length);
          effective.forEach((e, i) => {
            const prefix = /^[-@:+!]*/.exec(lines[i] ?? '')?.[0] ?? '';
            expect(e).toBe(`${prefix}/usr/sbin/ip vrf exec ${vrf} ${(lines[i] ?? '').slice(prefix.length)}`);
          });
          // Rendering again from what the host then shows (the unit's own lines) gives the same file.
          const again = renderServiceDropIn({
            unit: 'u.service',
            vrf,
            execStart: ownExecStart([unit, { path: `/${r.path}`, text: r.content }], `/${r.path}`),
          });
          expect(again).toEqual(r);
        },
      ),
    );
  });
});
