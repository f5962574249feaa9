/**
 * Finds remote commands built as strings, outside the one quoting helper (src/nodes/command.ts).
 *
 * Syntactic, on the TypeScript AST, so comments and plain descriptions are not read as code:
 * - `template`: a template literal with substitutions whose text runs a known command
 *   (`virsh start ${name}`);
 * - `concat`: a `+` chain with string pieces that run a known command (`'rm -rf ' + dir`);
 * - `join`: an array starting with a command name joined into one string (`['virsh', x].join(' ')`);
 * - `exec-string`: a call to some `.exec(...)` given a string, template, concatenation or join
 *   instead of an argv array (regex `.exec` and database `.exec` excepted).
 *
 * "Runs a known command" means a command word in command position: at the start of the text, or
 * after a shell operator (`;`, `|`, `&`, `(`, backtick, `$(`), optionally behind sudo/env/nice/
 * nohup/timeout; plus a few multi-word forms that are commands anywhere (`sh -c`, `ip route`).
 * Plain string literals are not flagged: a fixed script passed as one argv element
 * (`['sh', '-c', 'grep -- "$1" "$2"', 'x', a, b]`) is the sanctioned way to run one.
 * Passing a string variable to the pool's exec is a type error already (it takes argv).
 */
import ts from 'typescript';

export interface Finding {
  readonly file: string;
  readonly line: number;
  readonly rule: 'template' | 'concat' | 'join' | 'exec-string';
  readonly text: string;
}

const COMMANDS = [
  'virsh',
  'lxc-[a-z]+',
  'vzctl',
  'qemu-img',
  'qemu-system-[a-z0-9_]+',
  'lvcreate',
  'lvremove',
  'lvextend',
  'lvresize',
  'lvreduce',
  'lvrename',
  'lvchange',
  'lvs',
  'vgs',
  'pvs',
  'vgcreate',
  'vgremove',
  'pvcreate',
  // `ip` and `bridge` start ordinary sentences too ("bridge ${x} is in use"): see ANYWHERE.
  'brctl',
  'ovs-vsctl',
  'tar',
  'rm',
  'rmdir',
  'mkdir',
  'cat',
  'ls',
  'cp',
  'mv',
  'dd',
  'ln',
  'chmod',
  'chown',
  'touch',
  'kill',
  'echo',
  'printf',
  'sed',
  'grep',
  'awk',
  'find',
  'mount',
  'umount',
  'losetup',
  'genisoimage',
  'mkisofs',
  'wget',
  'curl',
  'ssh',
  'scp',
  'sh',
  'bash',
  'sudo',
];

const PREFIX = String.raw`(?:(?:sudo|env|nice|nohup|timeout\s+\S+)\s+)*`;
const IN_COMMAND_POSITION = new RegExp(String.raw`(?:^|[;&|(\x60\n]|\$\()\s*${PREFIX}(?:${COMMANDS.join('|')})(?=\s|$)`);
const ANYWHERE = [
  /\b(?:ba)?sh\s+-c\b/,
  /\bip\s+(?:-[a-z0-9]+\s+)*(?:route|link|addr|address|neigh|netns|rule)\b/,
  /\bbridge\s+(?:link|fdb|vlan|mdb)\b/,
  /\bvirsh\s+(?:-c\s+\S+\s+)?(?:start|destroy|shutdown|undefine|define|list|dominfo|domstats|dumpxml|suspend|resume|reboot|vncdisplay|net-\w+|vol-\w+|pool-\w+)\b/,
];

/** Placeholder for a substitution or a non-literal operand, so `rm -rf ${x}` reads as `rm -rf ·`. */
const HOLE = '\u00b7';

export const runsCommand = (text: string): boolean => IN_COMMAND_POSITION.test(text) || ANYWHERE.some((re) => re.test(text));

function templateText(t: ts.TemplateExpression): string {
  return t.head.text + t.templateSpans.map((s) => HOLE + s.literal.text).join('');
}

/** Operands of a left-nested `a + b + c` chain. */
function plusOperands(e: ts.Expression): ts.Expression[] {
  if (ts.isBinaryExpression(e) && e.operatorToken.kind === ts.SyntaxKind.PlusToken) return [...plusOperands(e.left), ...plusOperands(e.right)];
  if (ts.isParenthesizedExpression(e)) return plusOperands(e.expression);
  return [e];
}

const literalText = (e: ts.Expression): string | undefined => {
  if (ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e)) return e.text;
  if (ts.isTemplateExpression(e)) return templateText(e);
  return undefined;
};

/** Text of a `+` chain that has at least one string piece, with holes for the rest; else undefined. */
function concatText(e: ts.BinaryExpression): string | undefined {
  const parts = plusOperands(e).map(literalText);
  if (parts.every((p) => p === undefined)) return undefined;
  return parts.map((p) => p ?? HOLE).join('');
}

const isPlus = (n: ts.Node): n is ts.BinaryExpression => ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.PlusToken;

/** `[...].join(...)` whose array starts with a command name. */
function joinedCommand(e: ts.Expression): boolean {
  if (!ts.isCallExpression(e) || !ts.isPropertyAccessExpression(e.expression) || e.expression.name.text !== 'join') return false;
  const arr = e.expression.expression;
  if (!ts.isArrayLiteralExpression(arr) || arr.elements.length === 0) return false;
  const first = arr.elements[0];
  return (ts.isStringLiteral(first) || ts.isNoSubstitutionTemplateLiteral(first)) && runsCommand(first.text);
}

const isStringish = (e: ts.Expression): boolean =>
  ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e) || ts.isTemplateExpression(e) || (isPlus(e) && concatText(e) !== undefined) || (ts.isCallExpression(e) && ts.isPropertyAccessExpression(e.expression) && e.expression.name.text === 'join');

/** `.exec` calls that are not about shells: RegExp#exec and SQL `db.exec`. */
function harmlessExecReceiver(receiver: ts.Expression, sf: ts.SourceFile): boolean {
  if (ts.isRegularExpressionLiteral(receiver)) return true;
  const text = receiver.getText(sf);
  return /(?:^|\.)(?:db|database|sqlite|conn?ection)$/i.test(text) || /(?:RE|Re|_re|Regex|Pattern|PATTERN)$/.test(text);
}

export function findShellStrings(source: string, file: string): Finding[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, file.endsWith('x') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
  const findings: Finding[] = [];
  const add = (node: ts.Node, rule: Finding['rule']): void => {
    const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
    findings.push({ file, line, rule, text: node.getText(sf).replace(/\s+/g, ' ').slice(0, 120) });
  };

  const visit = (node: ts.Node): void => {
    if (ts.isTemplateExpression(node) && runsCommand(templateText(node))) {
      add(node, 'template');
    } else if (isPlus(node) && !isPlus(node.parent) && !(ts.isParenthesizedExpression(node.parent) && isPlus(node.parent.parent))) {
      const text = concatText(node);
      if (text !== undefined && runsCommand(text)) add(node, 'concat');
    } else if (ts.isCallExpression(node)) {
      if (joinedCommand(node)) add(node, 'join');
      const callee = node.expression;
      const name = ts.isPropertyAccessExpression(callee) ? callee.name.text : ts.isIdentifier(callee) ? callee.text : undefined;
      const receiverOk = ts.isPropertyAccessExpression(callee) && harmlessExecReceiver(callee.expression, sf);
      if (name === 'exec' && !receiverOk && node.arguments.slice(0, 2).some(isStringish)) add(node, 'exec-string');
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return findings;
}
