import type { Command } from 'commander';

export interface CliContext {
  env: Record<string, string | undefined>;
  out: (s: string) => void;
  err: (s: string) => void;
  setExitCode: (code: number) => void;
}

export function registerClientCommands(_program: Command, _ctx: CliContext): void {}
