import { useEffect, useRef, useState } from 'preact/hooks';
import type { Client } from 'graphql-ws';
import { ApiError, live, run, subscribe } from './api';
import {
  ChangeRequestUpdatedDocument,
  LogInDocument,
  PortalAccessDocument,
  ResidentUnitDocument,
  UnitUpdatedDocument,
  type BrandingFragment,
  type ChangeViewFragment,
  type UnitViewFragment,
} from './gql/graphql';
import { contrast, inkOnWhite, isColor, onColor } from './colors';
import { readLink, saveToken, savedToken } from './session';
import { UnitPage, type Property } from './UnitPage';

/** Why the unit cannot be shown. */
export type Failure = 'invalid-link' | 'portal-off' | 'revoked' | 'unavailable';

type Phase =
  | { kind: 'loading' }
  | { kind: 'failed'; failure: Failure; detail?: string }
  | { kind: 'ready'; token: string; propertyId: string; property: Property };

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function App() {
  const [phase, setPhase] = useState<Phase>({ kind: 'loading' });
  const [branding, setBranding] = useState<BrandingFragment | null>(null);
  const [unit, setUnit] = useState<UnitViewFragment | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [live_, setLive] = useState<'connecting' | 'live' | 'lost' | 'polling'>('connecting');
  const client = useRef<Client | null>(null);

  // Retries what the server refused for load (429, unreachable) with a
  // notice, and turns what it refused for good into a failure page.
  async function patiently<T>(what: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        const v = await what();
        setNotice(null);
        return v;
      } catch (e) {
        if (!(e instanceof ApiError) || (e.code !== 'RATE_LIMITED' && e.code !== 'UNAVAILABLE')) throw e;
        const wait = e.code === 'RATE_LIMITED' ? Math.max(1, e.retryAfter) : Math.min(30, 2 ** attempt);
        setNotice(
          e.code === 'RATE_LIMITED'
            ? `The server is busy. Trying again in ${wait} s…`
            : `The server cannot be reached. Trying again in ${wait} s…`,
        );
        await sleep(wait * 1000);
      }
    }
  }

  function fail(failure: Failure, detail?: string) {
    client.current?.dispose();
    client.current = null;
    setUnit(null);
    setPhase({ kind: 'failed', failure, detail });
  }

  // A refusal of the session after the page was shown: revoked.
  function refused(e: unknown): boolean {
    if (e instanceof ApiError && e.code === 'UNAUTHENTICATED') {
      if (phase.kind === 'ready') saveToken(phase.propertyId, null);
      fail('revoked');
      return true;
    }
    return false;
  }

  useEffect(() => {
    (async () => {
      const { propertyId, auth } = readLink();
      if (!propertyId || !uuid.test(propertyId)) return fail('invalid-link');
      try {
        const access = await patiently(() => run(PortalAccessDocument, { propertyId }));
        setBranding(access.uiConfiguration);
        if (!access.portalAccess.portalAllowed) return fail('portal-off', access.portalAccess.loginText);
        let token = savedToken(propertyId);
        if (auth) {
          const login = await patiently(() => run(LogInDocument, { propertyId, hashedSecret: auth }));
          token = login.login.token;
          saveToken(propertyId, token);
        }
        if (!token) return fail('invalid-link');
        const data = await patiently(() => run(ResidentUnitDocument, { propertyId }, token!));
        setBranding(data.unit.property.uiConfiguration);
        setUnit(data.unit);
        setPhase({ kind: 'ready', token, propertyId, property: data.unit.property });
      } catch (e) {
        if (e instanceof ApiError && (e.code === 'UNAUTHENTICATED' || e.code === 'NOT_FOUND' || e.code === 'BAD_USER_INPUT')) {
          saveToken(propertyId, null);
          return fail(auth ? 'invalid-link' : 'revoked');
        }
        fail('unavailable', e instanceof Error ? e.message : undefined);
      }
    })();
  }, []);

  // Live updates while the unit is shown; a refresh every 30 s where the
  // server offers none.
  useEffect(() => {
    if (phase.kind !== 'ready') return;
    const { token, propertyId } = phase;
    const refetch = () =>
      run(ResidentUnitDocument, { propertyId }, token)
        .then((d) => setUnit((u) => fresher(u, d.unit)))
        .catch((e) => refused(e));
    let poll: ReturnType<typeof setInterval> | undefined;
    const c = live(token, {
      connected: (again) => {
        setLive('live');
        if (again) refetch();
      },
      lost: () => setLive((s) => (s === 'polling' ? s : 'lost')),
      unavailable: () => {
        setLive('polling');
        poll ??= setInterval(refetch, 30_000);
      },
      revoked: () => refused(new ApiError('revoked', 'UNAUTHENTICATED')),
    });
    client.current = c;
    // A refused subscription is tried again; until then the page says its
    // updates are not live.
    const onRefused = (e: ApiError) => {
      if (!refused(e)) setLive('lost');
    };
    const stops = [
      subscribe(
        c,
        UnitUpdatedDocument,
        { propertyId },
        (d) => {
          setLive('live');
          setUnit((u) => fresher(u, d.unitUpdated));
        },
        onRefused,
      ),
      subscribe(
        c,
        ChangeRequestUpdatedDocument,
        { propertyId },
        (d) => setUnit((u) => u && withChange(u, d.changeRequestUpdated)),
        onRefused,
      ),
    ];
    return () => {
      stops.forEach((s) => s());
      clearInterval(poll);
      // A socket that closed before it connected makes dispose reject
      // with its close event: there is nothing left to close then.
      Promise.resolve(c.dispose()).catch(() => {});
    };
  }, [phase.kind]);

  useEffect(() => applyBranding(branding, phase.kind === 'ready' ? phase.propertyId : null), [branding, phase.kind]);

  const title = branding?.text.title || 'Your Wi-Fi';
  return (
    <>
      <header class="top">
        {branding?.files.logoFileName && phase.kind === 'ready' ? (
          <img class="logo" src={`/residents/properties/${phase.propertyId}/files/logo`} alt="" />
        ) : null}
        <div>
          <h1>{title}</h1>
          {branding?.text.subTitle ? <p class="subtitle">{branding.text.subTitle}</p> : null}
        </div>
      </header>
      <main>
        {notice ? (
          <p class="notice" role="status">
            {notice}
          </p>
        ) : null}
        {phase.kind === 'loading' ? (
          <p role="status" class="loading">
            Loading your Wi-Fi…
          </p>
        ) : phase.kind === 'failed' ? (
          <FailurePage failure={phase.failure} detail={phase.detail} />
        ) : unit ? (
          <UnitPage
            unit={unit}
            property={phase.property}
            branding={branding}
            token={phase.token}
            propertyId={phase.propertyId}
            liveState={live_}
            onUnit={(next: UnitViewFragment) => setUnit((u) => fresher(u, next))}
            onRefused={refused}
            onSignedOut={() => {
              saveToken(phase.propertyId, null);
              fail('revoked', 'signed-out');
            }}
          />
        ) : null}
      </main>
    </>
  );
}

/** unit with change c put in its place in the recent changes (newest first). */
// How far a change request has come; a completed one's completedAt
// orders two completions (a retried request completes again).
const progress: Record<string, number> = { PENDING: 0, PUBLISHED: 1, APPLIED: 2, FAILED: 2 };

function newer(a: ChangeViewFragment, b: ChangeViewFragment): boolean {
  const pa = progress[a.status] ?? 0;
  const pb = progress[b.status] ?? 0;
  return pa > pb || (pa === 2 && pb === 2 && (a.completedAt ?? '') > (b.completedAt ?? ''));
}

/**
 * next, a snapshot of the unit (a unitUpdated event, a mutation's answer, a
 * refetch), without going back on a change request the page has seen further
 * along: the two subscriptions are not ordered with each other, and a
 * snapshot read just before a request completed can arrive after the
 * changeRequestUpdated event that completed it.
 */
function fresher(prev: UnitViewFragment | null, next: UnitViewFragment): UnitViewFragment {
  if (!prev) return next;
  const seen = new Map(prev.changeRequests.edges.map((e) => [e.node.id, e.node]));
  let kept = false;
  const edges = next.changeRequests.edges.map((e) => {
    const old = seen.get(e.node.id);
    if (old && newer(old, e.node)) {
      kept = true;
      return { ...e, node: old };
    }
    return e;
  });
  return kept ? { ...next, changeRequests: { ...next.changeRequests, edges } } : next;
}

function withChange(unit: UnitViewFragment, c: ChangeViewFragment): UnitViewFragment {
  const old = unit.changeRequests.edges.find((e) => e.node.id === c.id)?.node;
  if (old && newer(old, c)) return unit; // a snapshot read later has it further along
  const edges = unit.changeRequests.edges.filter((e) => e.node.id !== c.id);
  edges.push({ node: c });
  edges.sort((a, b) => (a.node.createdAt < b.node.createdAt ? 1 : a.node.createdAt > b.node.createdAt ? -1 : 0));
  return { ...unit, changeRequests: { ...unit.changeRequests, edges: edges.slice(0, 5) } };
}

function applyBranding(b: BrandingFragment | null, propertyId: string | null) {
  if (!b) return;
  const root = document.documentElement.style;
  const set = (name: string, v: string | null) => (v ? root.setProperty(name, v) : root.removeProperty(name));
  const { mainColor, accentColor, separatorColor, textColor } = b.color;
  set('--main', isColor(mainColor) ? mainColor : null);
  set('--on-main', isColor(mainColor) ? onColor(mainColor) : null);
  set('--accent', isColor(accentColor) ? accentColor : null);
  set('--on-accent', isColor(accentColor) ? onColor(accentColor) : null);
  set('--accent-ink', isColor(accentColor) ? inkOnWhite(accentColor) : null);
  set('--separator', isColor(separatorColor) ? separatorColor : null);
  set('--text', isColor(textColor) && contrast(textColor, '#ffffff') >= 4.5 ? textColor : null);
  document.title = b.text.title || 'Your Wi-Fi';
  if (propertyId && b.files.favIconFileName) {
    let link = document.querySelector<HTMLLinkElement>('link[rel="icon"]');
    if (!link) {
      link = document.createElement('link');
      link.rel = 'icon';
      document.head.append(link);
    }
    link.href = `/residents/properties/${propertyId}/files/favicons`;
  }
}

function FailurePage({ failure, detail }: { failure: Failure; detail?: string }) {
  const pages: Record<Failure, { title: string; text: string }> = {
    'invalid-link': {
      title: 'This link does not work',
      text: 'The link may be incomplete, it may have been replaced by a newer one, or your unit may be switched off. Ask your property management for your current portal link.',
    },
    'portal-off': {
      title: 'The resident portal is closed',
      text: detail || 'Your property has switched the resident portal off for now. Please try again later.',
    },
    revoked: {
      title: detail === 'signed-out' ? 'You are signed out everywhere' : 'Your session has ended',
      text:
        detail === 'signed-out'
          ? 'Every device that had this page open is signed out, and your old portal link no longer works. Ask your property management for a new link.'
          : 'Your portal access was reset or your unit was switched off. Ask your property management for a new portal link.',
    },
    unavailable: {
      title: 'Something went wrong',
      text: 'The page could not be loaded. Please reload it in a moment.',
    },
  };
  const p = pages[failure];
  return (
    <section class="card failure" data-testid="portal-error" data-failure={failure} aria-labelledby="failure-title">
      <h2 id="failure-title">{p.title}</h2>
      <p>{p.text}</p>
    </section>
  );
}
