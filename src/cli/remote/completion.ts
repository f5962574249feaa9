/**
 * `oms completion bash|zsh`: completion scripts generated from the command tree (args.ts) and the
 * method declarations (methods.generated.ts): commands, subcommands and options at each level, and
 * every service.method after `oms call`, with its summary in zsh.
 */
import type { Command } from 'commander';
import { program } from '../args.ts';
import { methods } from './methods.generated.ts';

interface Level {
  path: string;
  subcommands: string[];
  options: string[];
}

/** Every command path (`''`, `vm`, `vm/start` ...) with what may follow it. */
export function commandLevels(): Level[] {
  const root = program({ out: () => undefined, err: () => undefined }, () => undefined);
  const levels: Level[] = [];
  const walk = (c: Command, path: string) => {
    const subs = c.commands.map((s) => s.name());
    levels.push({ path, subcommands: subs, options: [...c.options.flatMap((o) => [o.long, o.short].filter((x): x is string => !!x)), '--help'] });
    for (const s of c.commands) walk(s, path ? `${path}/${s.name()}` : s.name());
  };
  walk(root, '');
  return levels;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function completionScript(shell: 'bash' | 'zsh'): string {
  const levels = commandLevels();
  const names = Object.keys(methods).sort();
  const known = levels.filter((l) => l.subcommands.length).map((l) => l.path || '.');
  if (shell === 'bash') {
    const cases = levels
      .map((l) => `    ${q(l.path || '.')}) words=${q([...l.subcommands].join(' '))}; opts=${q(l.options.join(' '))} ;;`)
      .join('\n');
    return `# oms bash completion, generated from the command tree and the method declarations.
# Use: eval "$(oms completion bash)"   (or save it under /etc/bash_completion.d/oms)
_oms() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmdpath="." w next i words="" opts="" args=0
  local groups=${q(` ${known.join(' ')} `)}
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case "$w" in -*) continue ;; esac
    if [[ "$cmdpath" == "." ]]; then next="$w"; else next="$cmdpath/$w"; fi
    if [[ "$groups" == *" $cmdpath "* ]]; then cmdpath="$next"; else args=$((args + 1)); fi
  done
  case "$cmdpath" in
${cases}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
  elif [[ "$cmdpath" == "call" && $args -eq 0 ]]; then
    COMPREPLY=( $(compgen -W ${q(names.join(' '))} -- "$cur") )
  elif [[ "$cmdpath" == "completion" && $args -eq 0 ]]; then
    COMPREPLY=( $(compgen -W "bash zsh" -- "$cur") )
  elif [[ -n "$words" && $args -eq 0 ]]; then
    COMPREPLY=( $(compgen -W "$words" -- "$cur") )
  else
    COMPREPLY=( $(compgen -f -- "$cur") )
  fi
}
complete -F _oms oms
`;
  }
  const described = names.map((n) => q(`${n.replace(/:/g, '\\:')}:${methods[n]!.summary.slice(0, 70)}`)).join(' \\\n    ');
  const cases = levels.map((l) => `    ${q(l.path || '.')}) subs=(${l.subcommands.map(q).join(' ')}); opts=(${l.options.map(q).join(' ')}) ;;`).join('\n');
  return `#compdef oms
# oms zsh completion, generated from the command tree and the method declarations.
# Use: source <(oms completion zsh)   (or save it as _oms in a directory of $fpath)
_oms() {
  local cmdpath=. w next i args=0
  local -a subs opts methods
  local groups=${q(` ${known.join(' ')} `)}
  for (( i = 2; i < CURRENT; i++ )); do
    w=\${words[i]}
    [[ $w == -* ]] && continue
    if [[ $cmdpath == . ]]; then next=$w; else next=$cmdpath/$w; fi
    if [[ $groups == *" $cmdpath "* ]]; then cmdpath=$next; else (( args++ )); fi
  done
  case $cmdpath in
${cases}
  esac
  if [[ \${words[CURRENT]} == -* ]]; then
    compadd -- $opts
  elif [[ $cmdpath == call && $args -eq 0 ]]; then
    methods=(
    ${described}
    )
    _describe 'method' methods
  elif [[ $cmdpath == completion && $args -eq 0 ]]; then
    compadd bash zsh
  elif (( \${#subs} )) && [[ $args -eq 0 ]]; then
    compadd -- $subs
  else
    _files
  fi
}
compdef _oms oms
`;
}
