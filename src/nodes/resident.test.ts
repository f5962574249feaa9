import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { requestLine, residentArgv, takeAnswer } from './resident.ts';
import { shellLine } from './command.ts';

const transcript = readFileSync(new URL('./fixtures/virsh-shell-transcript.txt', import.meta.url), 'utf8');
const DOMSTATS = 'domstats --raw --state --cpu-total --balloon --vcpu';

describe('nodes/resident', () => {
  it('takes each answer of a real virsh shell session (readline echoes prompt and request), at any chunking', () => {
    for (const chunk of [1, 7, 64, transcript.length]) {
      let text = '';
      let read = 0;
      const answers: string[] = [];
      const requests = [
        [DOMSTATS, 'OMS-END-0123456789abcdef'],
        ['dominfo nosuch', 'OMS-END-fedcba9876543210'],
      ];
      for (let at = 0; at < transcript.length && answers.length < requests.length; at += chunk) {
        text += transcript.slice(at, at + chunk);
        read = at + chunk;
        for (let got; answers.length < requests.length; ) {
          const [line, marker] = requests[answers.length];
          if (!(got = takeAnswer(text, line, `echo ${marker}`, marker))) break;
          answers.push(got.answer);
          text = got.rest;
        }
      }
      expect(answers, `chunks of ${chunk}`).to.have.length(2);
      expect(answers[0]).to.match(/^Domain: 'fixture-b'\n {2}state\.state=5\n/);
      expect(answers[0]).to.include("Domain: 'fixture-a'\n");
      expect(answers[0]).not.to.include('virsh #');
      expect(answers[0]).not.to.include('OMS-END');
      expect(answers[1]).to.equal("error: failed to get domain 'nosuch'\n");
      // What is left: the prompt for the next request (and, here, the line end virsh prints at EOF).
      expect(text + transcript.slice(read)).to.equal('virsh # \n');
    }
  });

  it('takes answers of a program that neither prompts nor echoes (sh)', () => {
    const a = takeAnswer('hello\nOMS-END-aa\n', 'echo hello', 'echo OMS-END-aa', 'OMS-END-aa');
    expect(a).to.deep.equal({ answer: 'hello\n', rest: '' });
    expect(takeAnswer('hello\nOMS-END-a', 'echo hello', 'echo OMS-END-aa', 'OMS-END-aa')).to.equal(undefined);
  });

  it('refuses request words that would need quoting, before anything is written', () => {
    for (const bad of ['$(id)', '`id`', 'a b', 'a;b', "a'b", 'a"b', 'a\nb', '', 'a|b', 'a&b', '>x', '*', '~', 'é', 'x'.repeat(300), '$HOME', 'a\\b']) {
      expect(() => requestLine(['echo', bad]), JSON.stringify(bad)).to.throw('only plain words');
    }
    expect(() => requestLine([])).to.throw();
    expect(requestLine(['domstats', '--raw', 'qemu:///system', 'a.b_c=d+e'])).to.equal('domstats --raw qemu:///system a.b_c=d+e');
  });

  it('runs the program through a fixed wrapper that merges stderr into stdout', () => {
    expect(shellLine(residentArgv(['virsh', '-q', '-c', 'qemu:///system']))).to.equal(`sh -c 'exec 2>&1; exec "$@"' oms-resident virsh -q -c qemu:///system`);
  });
});
