/**
 * Shell completion scripts for bash and zsh, generated from the command tree itself, so every
 * command and option added later is completed without touching this file.
 */
import type { Command, Option } from 'commander';
import { REQUEST_STATUSES } from '../core/types.js';

interface OptionModel {
  names: string[];
  description: string;
  takesValue: boolean;
  /** Fixed values to offer, or 'file' for a path. */
  values?: string[] | 'file';
}

interface CommandModel {
  /** Space-separated path below the program, '' for the program itself. */
  path: string;
  subs: { name: string; description: string }[];
  options: OptionModel[];
  /** Values to offer for positional arguments: a fixed list, 'file', or none. */
  args?: string[] | 'file';
}

/** Options whose value is a path. */
const FILE_OPTIONS = new Set(['--config', '--output', '--checkpoints', '--public-key', '--client', '--out']);
const LIST_VALUES: Record<string, string[]> = { '--status': [...REQUEST_STATUSES] };

function optionModel(o: Option): OptionModel {
  const names = [o.long, o.short].filter((n): n is string => Boolean(n));
  const takesValue = o.required || o.optional;
  const m: OptionModel = { names, description: o.description ?? '', takesValue };
  if (o.argChoices?.length) m.values = [...o.argChoices];
  else if (o.long && FILE_OPTIONS.has(o.long)) m.values = 'file';
  else if (o.long && LIST_VALUES[o.long]) m.values = LIST_VALUES[o.long]!;
  return m;
}

function isHidden(cmd: Command): boolean {
  return Boolean((cmd as unknown as { _hidden?: boolean })._hidden);
}

export function commandModels(program: Command): CommandModel[] {
  const out: CommandModel[] = [];
  const walk = (cmd: Command, path: string) => {
    const subs = cmd.commands.filter((c) => !isHidden(c)).map((c) => ({ name: c.name(), description: c.description() }));
    const options = cmd.options.filter((o) => !o.hidden).map(optionModel);
    options.push({ names: ['--help', '-h'], description: 'show help', takesValue: false });
    const m: CommandModel = { path, subs, options };
    const args = cmd.registeredArguments;
    if (args.some((a) => a.argChoices?.length)) m.args = args.flatMap((a) => a.argChoices ?? []);
    else if (args.some((a) => /file|tests/i.test(a.name()))) m.args = 'file';
    out.push(m);
    for (const c of cmd.commands) if (!isHidden(c)) walk(c, path ? `${path} ${c.name()}` : c.name());
  };
  walk(program, '');
  return out;
}

const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();

export function bashCompletion(program: Command): string {
  const name = program.name();
  const models = commandModels(program);
  const fn = `_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const valueOpts = models.flatMap((m) => m.options.filter((o) => o.takesValue).flatMap((o) => o.names.map((n) => `${m.path}|${n}`)));
  const subCases = models.filter((m) => m.subs.length).flatMap((m) => m.subs.map((s) => `${m.path}|${s.name}`));
  const valueCases = models.flatMap((m) =>
    m.options
      .filter((o) => o.takesValue)
      .map((o) => {
        const pats = o.names.map((n) => `${sq(`${m.path}|${n}`)}`).join('|');
        const action =
          o.values === 'file'
            ? 'COMPREPLY=( $(compgen -f -- "$cur") )'
            : o.values
              ? `COMPREPLY=( $(compgen -W ${sq(o.values.join(' '))} -- "$cur") )`
              : 'COMPREPLY=()';
        return `    ${pats}) ${action}; return 0 ;;`;
      }),
  );
  const lines = [
    `# bash completion for ${name}. Load it with:`,
    `#   source <(${name} completion bash)`,
    `# or save it as /etc/bash_completion.d/${name} (or ~/.local/share/bash-completion/completions/${name}).`,
    `${fn}() {`,
    '  local cur prev cmdpath w i skip=0',
    '  COMPREPLY=()',
    '  cur="${COMP_WORDS[COMP_CWORD]}"',
    '  prev=""',
    '  (( COMP_CWORD > 0 )) && prev="${COMP_WORDS[COMP_CWORD-1]}"',
    '  cmdpath=""',
    '  for (( i=1; i<COMP_CWORD; i++ )); do',
    '    w="${COMP_WORDS[i]}"',
    '    if (( skip )); then skip=0; continue; fi',
    '    case "$w" in',
    '      --*=*) continue ;;',
    '      -*)',
    '        case "$cmdpath|$w" in',
    `          ${valueOpts.length ? valueOpts.map(sq).join('|') : "'-'"}) skip=1 ;;`,
    '        esac',
    '        continue ;;',
    '    esac',
    '    case "$cmdpath|$w" in',
    `      ${subCases.map(sq).join('|')}) cmdpath="${'${cmdpath:+$cmdpath }'}$w" ;;`,
    '    esac',
    '  done',
    '  case "$cmdpath|$prev" in',
    ...valueCases,
    '  esac',
    '  local subs="" opts="" args=""',
    '  case "$cmdpath" in',
    ...models.map((m) => {
      const parts = [
        m.subs.length ? `subs=${sq(m.subs.map((s) => s.name).join(' '))}` : '',
        `opts=${sq(m.options.flatMap((o) => o.names).join(' '))}`,
        m.args === 'file' ? 'args=file' : m.args ? `args=${sq(m.args.join(' '))}` : '',
      ].filter(Boolean);
      return `    ${sq(m.path)}) ${parts.join('; ')} ;;`;
    }),
    '  esac',
    '  if [[ "$cur" == -* ]]; then',
    '    COMPREPLY=( $(compgen -W "$opts" -- "$cur") )',
    '  elif [[ -n "$subs" ]]; then',
    '    COMPREPLY=( $(compgen -W "$subs" -- "$cur") )',
    '  elif [[ "$args" == file ]]; then',
    '    COMPREPLY=( $(compgen -f -- "$cur") )',
    '  elif [[ -n "$args" ]]; then',
    '    COMPREPLY=( $(compgen -W "$args" -- "$cur") )',
    '  fi',
    '  return 0',
    '}',
    `complete -o filenames -F ${fn} ${name}`,
    '',
  ];
  return lines.join('\n');
}

export function zshCompletion(program: Command): string {
  const name = program.name();
  const models = commandModels(program);
  const fn = `_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const describe = (n: string, d: string) => sq(`${n.replace(/:/g, '\\:')}:${oneLine(d)}`);
  const valueOpts = models.flatMap((m) => m.options.filter((o) => o.takesValue).flatMap((o) => o.names.map((n) => `${m.path}|${n}`)));
  const subCases = models.filter((m) => m.subs.length).flatMap((m) => m.subs.map((s) => `${m.path}|${s.name}`));
  const valueCases = models.flatMap((m) =>
    m.options
      .filter((o) => o.takesValue)
      .map((o) => {
        const pats = o.names.map((n) => sq(`${m.path}|${n}`)).join('|');
        const action = o.values === 'file' ? '_files' : o.values ? `compadd -- ${o.values.map(sq).join(' ')}` : ':';
        return `    (${pats}) ${action}; return 0 ;;`;
      }),
  );
  const lines = [
    `#compdef ${name}`,
    `# zsh completion for ${name}. Load it with:`,
    `#   source <(${name} completion zsh)`,
    `# or save it as _${name} in a directory of your $fpath.`,
    `${fn}() {`,
    '  local cur="${words[CURRENT]}" prev="${words[CURRENT-1]}" cmdpath="" w i skip=0',
    '  for (( i=2; i<CURRENT; i++ )); do',
    '    w="${words[i]}"',
    '    if (( skip )); then skip=0; continue; fi',
    '    case "$w" in',
    '      (--*=*) continue ;;',
    '      (-*)',
    '        case "$cmdpath|$w" in',
    `          (${valueOpts.length ? valueOpts.map(sq).join('|') : "'-'"}) skip=1 ;;`,
    '        esac',
    '        continue ;;',
    '    esac',
    '    case "$cmdpath|$w" in',
    `      (${subCases.map(sq).join('|')}) cmdpath="${'${cmdpath:+$cmdpath }'}$w" ;;`,
    '    esac',
    '  done',
    '  case "$cmdpath|$prev" in',
    ...valueCases,
    '  esac',
    '  local -a subs opts',
    '  local args=""',
    '  case "$cmdpath" in',
    ...models.map((m) => {
      const parts = [
        m.subs.length ? `subs=(${m.subs.map((s) => describe(s.name, s.description)).join(' ')})` : '',
        `opts=(${m.options.flatMap((o) => o.names.map((n) => describe(n, o.description))).join(' ')})`,
        m.args === 'file' ? 'args=file' : m.args ? `args=${sq(m.args.join(' '))}` : '',
      ].filter(Boolean);
      return `    (${sq(m.path)}) ${parts.join('; ')} ;;`;
    }),
    '  esac',
    '  if [[ "$cur" == -* ]]; then',
    "    _describe -t options 'option' opts",
    '  elif (( ${#subs} )); then',
    "    _describe -t commands 'command' subs",
    '  elif [[ "$args" == file ]]; then',
    '    _files',
    '  elif [[ -n "$args" ]]; then',
    '    compadd -- ${=args}',
    '  else',
    "    _describe -t options 'option' opts",
    '  fi',
    '}',
    `if [[ "\${funcstack[1]}" == "${fn}" ]]; then`,
    `  ${fn} "$@"`,
    'else',
    `  compdef ${fn} ${name}`,
    'fi',
    '',
  ];
  return lines.join('\n');
}
