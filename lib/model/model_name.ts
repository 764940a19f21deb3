// The name an adapter records for its base model (adapter_config.json's base_model_name_or_path):
// the Hugging Face hub id when the folder shows one, else the folder's name - never an absolute
// local path, which would leak the machine's layout into a file meant to be shared and would not
// resolve anywhere else. A hub id shows as a cache snapshot path
// (.../models--<owner>--<name>/snapshots/<revision>) or as a top-level `_name_or_path` of the form
// owner/name in config.json.
import { readFileSync } from 'node:fs';
import path from 'node:path';

const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

export function baseModelName(dir: string): string {
  const abs = path.resolve(dir);
  const cached = /(?:^|[\\/])models--([^\\/]+?)--([^\\/]+)[\\/]snapshots[\\/][^\\/]+[\\/]?$/.exec(abs);
  if (cached) return `${cached[1]}/${cached[2]}`;
  try {
    const cfg = JSON.parse(readFileSync(path.join(abs, 'config.json'), 'utf8')) as { _name_or_path?: unknown };
    if (typeof cfg._name_or_path === 'string' && HUB_ID.test(cfg._name_or_path)) return cfg._name_or_path;
  } catch {
    // no readable config: the folder's name
  }
  return path.basename(abs);
}
