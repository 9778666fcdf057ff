#!/usr/bin/env node
// Launcher for the `ten` binary: registers tsx so Node can load the TypeScript sources directly.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
