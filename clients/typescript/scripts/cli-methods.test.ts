import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { cliMethodsPath, generateCliMethods } from './cli-methods.ts';

describe('the CLI method table (src/cli/remote/methods.generated.ts)', () => {
  it('is up to date with the method declarations (else: npm run cli:gen)', () => {
    expect(readFileSync(cliMethodsPath, 'utf8') === generateCliMethods(), 'src/cli/remote/methods.generated.ts is stale: run npm run cli:gen').to.equal(true);
  });
});
