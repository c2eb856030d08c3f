// Configs returned by loadConfig(), with the file each was read from (null: none). createBroker()
// uses a loaded config as is instead of merging it over the file and environment again.
const loadedFiles = new WeakMap<object, string | null>();

export function rememberLoaded(config: object, file: string | null): void {
  loadedFiles.set(config, file);
}

/** The file `config` was read from (null: none), or undefined when it did not come from loadConfig(). */
export function loadedFrom(config: unknown): string | null | undefined {
  return typeof config === 'object' && config !== null ? loadedFiles.get(config) : undefined;
}
