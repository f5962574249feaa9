import { expect } from 'chai';
import { shellLine } from '../../src/nodes/command.ts';
import * as cmd from './lxc-commands.ts';

const P = '/var/lib/lxc';

describe('ovzservices LXC commands', () => {
  it('builds lifecycle commands as fixed argv with the id as one element', () => {
    expect(cmd.info(P, '9101')).to.deep.equal(['lxc-info', '-P', P, '-n', '9101', '-s', '-p', '-S', '-H']);
    expect(cmd.start(P, '9101')).to.deep.equal(['lxc-start', '-P', P, '-n', '9101']);
    expect(cmd.waitState(P, '9101', 'RUNNING')).to.deep.equal(['lxc-wait', '-P', P, '-n', '9101', '-s', 'RUNNING', '-t', '10']);
    expect(cmd.stop(P, '9101')).to.deep.equal(['lxc-stop', '-P', P, '-n', '9101', '-t', '10']);
    expect(cmd.destroy(P, '9101')).to.deep.equal(['lxc-destroy', '-P', P, '-n', '9101']);
    expect(cmd.attach(P, '9101', ['hostname'])).to.deep.equal(['lxc-attach', '-P', P, '-n', '9101', '--', 'hostname']);
    expect(cmd.cgroupSet(P, '9101', 'memory.limit_in_bytes', '67108864')).to.deep.equal(['lxc-cgroup', '-P', P, '-n', '9101', 'memory.limit_in_bytes', '67108864']);
    expect(cmd.kill(P, '9101')).to.deep.equal(['lxc-stop', '-P', P, '-n', '9101', '-k']);
    expect(cmd.freeze(P, '9101')).to.deep.equal(['lxc-freeze', '-P', P, '-n', '9101']);
    expect(cmd.unfreeze(P, '9101')).to.deep.equal(['lxc-unfreeze', '-P', P, '-n', '9101']);
    expect(cmd.removePrivateArea(P, '9101')).to.deep.equal(['rm', '-rf', '--one-file-system', '--', '/var/lib/lxc/9101']);
  });

  it('moves data with tar only inside the container directory', () => {
    expect(cmd.extractTarball(P, '9101', '/c/t.tar.gz')).to.deep.equal(['tar', '-C', '/var/lib/lxc/9101/rootfs', '--numeric-owner', '-xzpf', '/c/t.tar.gz']);
    expect(shellLine(cmd.exportStream(P, '9101'))).to.equal('tar -C /var/lib/lxc/9101/rootfs --numeric-owner -czf - .');
    expect(shellLine(cmd.manifest(P, '9101'))).to.equal("set -o pipefail; tar -C /var/lib/lxc/9101/rootfs '--sort=name' --numeric-owner -cf - . | sha256sum");
  });

  it('passes data to fixed scripts as positional parameters only', () => {
    for (const argv of [cmd.facts(P), cmd.infoMany(P, ['101', '102']), cmd.readConfigs(P, ['101']), cmd.makePrivateArea(P, '101'), cmd.writeFile('/x/config'), cmd.exportTarball(P, '101', '/c/t.tar.gz')]) {
      expect(argv[0]).to.equal('sh');
      expect(argv[1]).to.equal('-c');
      expect(argv[2]).not.to.match(/\/var\/lib\/lxc|101|\/c\//);
    }
    expect(cmd.infoMany(P, ['101', '102']).slice(3)).to.deep.equal(['oms-info', P, '101', '102']);
  });

  it('hashes the root password on the node from stdin, never from argv', () => {
    expect(shellLine(cmd.setRootPassword(P, '101'))).to.equal("set -o pipefail; openssl passwd -6 -stdin | sed 's/^/root:/' | chpasswd -e -R /var/lib/lxc/101/rootfs");
    expect(cmd.writeResolvConf(P, '101')).to.deep.equal(['chroot', '/var/lib/lxc/101/rootfs', 'sh', '-c', 'cat > /etc/resolv.conf']);
  });
});
