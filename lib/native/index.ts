export { native, loadAddonFrom, addonCandidates, AddonLoadError, packageRoot } from './loader.ts';
export type * from './contract.ts';
