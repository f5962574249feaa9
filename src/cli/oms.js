#!/usr/bin/env node
// Entry point for the `oms` command: loads tsx so the TypeScript sources run as they are.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
