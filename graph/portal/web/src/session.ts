// Where the page keeps its session: the unit token in sessionStorage (it
// ends with the tab), never the portal secret, which leaves the address bar
// before anything else runs.
const key = (propertyId: string) => `portal-token:${propertyId}`;

export interface Start {
  propertyId: string | null;
  /** The portal secret from the link, if the page was opened from one. */
  auth: string | null;
}

/** Reads the link's parameters and removes auth from the address bar and history. */
export function readLink(): Start {
  const url = new URL(location.href);
  const propertyId = url.searchParams.get('propertyId');
  const auth = url.searchParams.get('auth');
  if (auth !== null) {
    url.searchParams.delete('auth');
    history.replaceState(null, '', url.pathname + url.search + url.hash);
  }
  return { propertyId, auth };
}

export function savedToken(propertyId: string): string | null {
  try {
    return sessionStorage.getItem(key(propertyId));
  } catch {
    return null;
  }
}

export function saveToken(propertyId: string, token: string | null): void {
  try {
    if (token) sessionStorage.setItem(key(propertyId), token);
    else sessionStorage.removeItem(key(propertyId));
  } catch {
    // Storage refused (private mode): the session lasts as long as the page.
  }
}
