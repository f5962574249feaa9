import { expect } from 'chai';
import { OmsConnectionError, OmsError } from '../../../clients/typescript/src/errors.ts';
import { CliError, describeFailure, EXIT } from './exit-codes.ts';

describe('oms exit codes (remote/exit-codes.ts)', () => {
  it('are distinct for usage, auth, not found, conflict, timeout, unreachable and certificate', () => {
    const codes = Object.values(EXIT);
    expect(new Set(codes).size).to.equal(codes.length);
  });

  it('maps each kind of failure to its code and one plain line', () => {
    const cases: [unknown, number, RegExp][] = [
      [new OmsError('AuthError', 'Invalid or expired session'), EXIT.auth, /log in again with `oms login URL`/],
      [new OmsError('PermissionDenied', 'Permission denied: vm.power on /'), EXIT.auth, /PermissionDenied/],
      [new OmsError('UnknownVmError', 'Unknown VM: x'), EXIT.notFound, /UnknownVmError: Unknown VM: x/],
      [new OmsError('UnknownNodeError', 'Unknown node: n'), EXIT.notFound, /UnknownNodeError/],
      [new OmsError('TaskConflictError', 'v is busy'), EXIT.conflict, /TaskConflictError: v is busy/],
      [new OmsError('VmExistsError', 'exists'), EXIT.conflict, /VmExistsError/],
      [new OmsError('ShutdownTimeoutError', 'did not go down'), EXIT.timeout, /ShutdownTimeoutError/],
      [new OmsError('LibvirtError', 'boom'), EXIT.failed, /LibvirtError: boom/],
      [new OmsConnectionError('timeout', 'gw: no answer'), EXIT.timeout, /timeout/],
      [new OmsConnectionError('unreachable', 'https://gw:8000/: ECONNREFUSED'), EXIT.unreachable, /gateway unreachable: .*ECONNREFUSED/],
      [new OmsConnectionError('certificate', 'https://gw/: certificate SHA-256 AA is not the pinned BB; refused'), EXIT.certificate, /certificate mismatch: .*not the pinned BB.*log in again/],
      [new CliError('bad', EXIT.usage), EXIT.usage, /^bad$/],
    ];
    for (const [e, code, msg] of cases) {
      const f = describeFailure(e);
      expect(f.code, String(e)).to.equal(code);
      expect(f.message).to.match(msg).and.not.match(/\n\s+at /);
    }
    expect(describeFailure(new OmsError('AuthError', 'x'), 'prod').message).to.include('oms login URL --profile prod');
  });
});
