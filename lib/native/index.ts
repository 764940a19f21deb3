export { native, addonPath, loadAddonFrom, addonCandidates, checkThreadVariables, AddonLoadError, packageRoot } from './loader.ts';
export type * from './contract.ts';
