import { useState } from 'preact/hooks';
import { ApiError, run } from './api';
import {
  AllowDeviceDocument,
  RemoveDeviceDocument,
  SetContactDocument,
  SetPassphrasesDocument,
  SetUserPassphraseDocument,
  SignOutEverywhereDocument,
  type BrandingFragment,
  type ChangeViewFragment,
  type ResidentUnitQuery,
  type UnitViewFragment,
} from './gql/graphql';
import { passphraseProblem, qrDataURL, wifiText } from './wifi';

/** The unit's property, as the page reads it. */
export type Property = ResidentUnitQuery['unit']['property'];

type User = UnitViewFragment['users']['edges'][number]['node'];

interface Props {
  unit: UnitViewFragment;
  property: Property;
  branding: BrandingFragment | null;
  token: string;
  propertyId: string;
  liveState: 'connecting' | 'live' | 'lost' | 'polling';
  onUnit(u: UnitViewFragment): void;
  /** Handles a refused session (true) or leaves the error to the caller. */
  onRefused(e: unknown): boolean;
  onSignedOut(): void;
}

const liveText = {
  connecting: 'Connecting for live updates…',
  live: 'Live: changes show up here as they happen.',
  lost: 'Reconnecting for live updates…',
  polling: 'Live updates are unavailable; this page refreshes every 30 seconds.',
};

export function UnitPage(props: Props) {
  const { unit, property, branding } = props;
  const users = unit.users.edges.map((e) => e.node);
  const byType = (t: string) => users.filter((u) => u.type === t);
  const ssids = property.ssids.length ? property.ssids : [property.name];
  const [ssid, setSsid] = useState(ssids[0]);
  const canChoose = branding?.access.tenantSetDpsk ?? false;

  // Runs a change; the session refused shows the revoked page, anything
  // else comes back as a message for the control that made it.
  async function change(what: () => Promise<unknown>): Promise<string | null> {
    try {
      await what();
      return null;
    } catch (e) {
      if (props.onRefused(e)) return null;
      if (e instanceof ApiError) {
        const field = Object.values(e.fields)[0];
        if (e.code === 'RATE_LIMITED') return `Too many changes at once. Try again in ${Math.max(1, e.retryAfter)} s.`;
        return field ? `${field[0].toUpperCase()}${field.slice(1)}.` : e.message;
      }
      return 'The change could not be made.';
    }
  }

  const ctx = { ...props, change };
  return (
    <>
      <section class="card unit" aria-labelledby="unit-title">
        <h2 id="unit-title">
          {property.name} · Unit {unit.number}
        </h2>
        {branding?.text.announcements ? <p class="announcements">{branding.text.announcements}</p> : null}
        {ssids.length > 1 ? (
          <label class="field">
            Network
            <select value={ssid} onChange={(e) => setSsid((e.target as HTMLSelectElement).value)}>
              {ssids.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </select>
          </label>
        ) : (
          <p>
            Network: <strong>{ssid}</strong>
          </p>
        )}
        <p class="live" role="status" aria-live="polite">
          {liveText[props.liveState]}
        </p>
      </section>

      {byType('UNIT').map((u) => (
        <Identity key={u.id} ctx={ctx} user={u} label="Your Wi-Fi" ssid={ssid} canChoose={canChoose} secretField="secret" />
      ))}
      {unit.guestSecret !== null && unit.guestSecret !== undefined
        ? byType('GUEST').map((u) => (
            <Identity key={u.id} ctx={ctx} user={u} label="Guest Wi-Fi" ssid={ssid} canChoose={canChoose} secretField="guestSecret" />
          ))
        : null}
      {byType('LINKED').length ? (
        <section class="card" aria-labelledby="linked-title">
          <h2 id="linked-title">Linked identities</h2>
          <ul class="linked">
            {byType('LINKED').map((u) => (
              <li key={u.id}>
                <Identity ctx={ctx} user={u} label={u.userName || 'Identity'} ssid={ssid} canChoose={false} nested />
              </li>
            ))}
          </ul>
        </section>
      ) : null}

      <Changes changes={unit.changeRequests.edges.map((e) => e.node)} users={users} />
      <ContactForm ctx={ctx} />
      <SignOut ctx={ctx} />
      {branding?.text.helpText ? (
        <section class="card" aria-labelledby="help-title">
          <h2 id="help-title">Help</h2>
          <p class="help">{branding.text.helpText}</p>
        </section>
      ) : null}
    </>
  );
}

type Ctx = Props & { change(what: () => Promise<unknown>): Promise<string | null> };

function Identity(p: {
  ctx: Ctx;
  user: User;
  label: string;
  ssid: string;
  canChoose: boolean;
  secretField?: 'secret' | 'guestSecret';
  nested?: boolean;
}) {
  const { ctx, user } = p;
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<string | null>(null);
  const [choosing, setChoosing] = useState(false);
  const [chosen, setChosen] = useState('');
  const [touched, setTouched] = useState(false);
  const t = user.type;
  const headingId = `identity-${user.id}`;
  const problem = passphraseProblem(chosen);

  async function setPassphrase(value: string) {
    setBusy(true);
    setMessage(null);
    const err = await ctx.change(async () => {
      if (p.secretField) {
        const d = await run(SetPassphrasesDocument, { propertyId: ctx.propertyId, [p.secretField]: value }, ctx.token);
        ctx.onUnit(d.updateUnit);
      } else {
        await run(SetUserPassphraseDocument, { propertyId: ctx.propertyId, userId: user.id, passphrase: value }, ctx.token);
      }
    });
    setBusy(false);
    setMessage(err);
    if (!err) {
      setChoosing(false);
      setChosen('');
      setTouched(false);
    }
  }

  const Heading = p.nested ? 'h3' : 'h2';
  const body = (
    <>
      <Heading id={headingId}>{p.label}</Heading>
      <p class="passphrase-label">Passphrase</p>
      <p class="passphrase" data-testid={`passphrase-${t}`}>
        {user.passphrase}
      </p>
      <img
        class="qr"
        data-testid={`wifi-qr-${t}`}
        src={qrDataURL(wifiText(p.ssid, user.passphrase))}
        alt={`QR code to join ${p.ssid} with this passphrase`}
        width={164}
        height={164}
      />
      <div class="actions">
        <button type="button" data-testid={`regenerate-${t}`} disabled={busy} onClick={() => setPassphrase('')}>
          New passphrase
        </button>
        {p.canChoose ? (
          <button type="button" class="secondary" aria-expanded={choosing} onClick={() => setChoosing(!choosing)}>
            Choose one
          </button>
        ) : null}
      </div>
      {choosing ? (
        <form
          class="choose"
          onSubmit={(e) => {
            e.preventDefault();
            setTouched(true);
            if (!problem) setPassphrase(chosen);
          }}
        >
          <label class="field">
            Your passphrase
            <input
              type="text"
              autocomplete="off"
              spellcheck={false}
              maxLength={63}
              value={chosen}
              aria-invalid={touched && problem ? 'true' : 'false'}
              aria-describedby={`${headingId}-rule`}
              data-testid={`choose-${t}`}
              onInput={(e) => setChosen((e.target as HTMLInputElement).value)}
              onBlur={() => setTouched(true)}
            />
          </label>
          <p id={`${headingId}-rule`} class={touched && problem ? 'error' : 'hint'}>
            {touched && problem ? problem : '8 to 63 characters: letters, digits, spaces and ASCII punctuation.'}
          </p>
          <button type="submit" disabled={busy} data-testid={`save-${t}`}>
            Save passphrase
          </button>
        </form>
      ) : null}
      {message ? (
        <p class="error" role="alert" data-testid={`message-${t}`}>
          {message}
        </p>
      ) : null}
      <Devices ctx={ctx} user={user} />
    </>
  );
  return p.nested ? (
    <div class="identity" aria-labelledby={headingId}>
      {body}
    </div>
  ) : (
    <section class="card identity" aria-labelledby={headingId}>
      {body}
    </section>
  );
}

function Devices({ ctx, user }: { ctx: Ctx; user: User }) {
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const blocked = ctx.unit.blockedDevices.filter((b) => b.userId === user.id);
  async function act(mac: string, allow: boolean) {
    setBusy(mac);
    const vars = { propertyId: ctx.propertyId, userId: user.id, mac };
    const err = await ctx.change(() => (allow ? run(AllowDeviceDocument, vars, ctx.token) : run(RemoveDeviceDocument, vars, ctx.token)));
    setBusy(null);
    setMessage(err);
  }
  return (
    <>
      <h4 class="devices-title" data-testid={`devices-title-${user.id}`}>
        Devices
        {ctx.property.maxDevicesPerIdentity > 0 ? (
          <span class="muted"> · {user.devices.length} of {ctx.property.maxDevicesPerIdentity} devices</span>
        ) : null}
      </h4>
      {user.devices.length ? (
        <ul class="devices">
          {user.devices.map((d) => (
            <li key={d.macAddress} data-testid={`device-${d.macAddress}`}>
              <span>
                <strong>{d.displayName || 'Unnamed device'}</strong>
                {d.online ? (
                  <span class="online" data-testid={`online-${d.macAddress}`}>
                    {' '}
                    Online
                  </span>
                ) : null}
                <span class="muted">
                  {' '}
                  {d.osType ? `${d.osType} · ` : ''}
                  {d.macAddress}
                </span>
              </span>
              <button
                type="button"
                class="secondary"
                data-testid={`remove-device-${d.macAddress}`}
                disabled={busy === d.macAddress}
                aria-label={`Remove ${d.displayName || d.macAddress}`}
                onClick={() => act(d.macAddress, false)}
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted">No devices have joined with this passphrase yet.</p>
      )}
      {blocked.length ? (
        <>
          <h4 class="devices-title">Removed devices</h4>
          <p class="muted">They cannot join with this passphrase until you allow them again or change the passphrase.</p>
          <ul class="devices">
            {blocked.map((b) => (
              <li key={b.macAddress} data-testid={`blocked-device-${b.macAddress}`}>
                <span class="muted">{b.macAddress}</span>
                <button
                  type="button"
                  class="secondary"
                  data-testid={`allow-device-${b.macAddress}`}
                  disabled={busy === b.macAddress}
                  aria-label={`Allow ${b.macAddress} again`}
                  onClick={() => act(b.macAddress, true)}
                >
                  Allow
                </button>
              </li>
            ))}
          </ul>
        </>
      ) : null}
      {message ? (
        <p class="error" role="alert">
          {message}
        </p>
      ) : null}
    </>
  );
}

const kindText: Record<string, string> = {
  IDENTITY_CREATED: 'Identity created',
  IDENTITY_CHANGED: 'Identity changed',
  IDENTITY_REMOVED: 'Identity removed',
  PASSPHRASE_CHANGED: 'Passphrase changed',
  DEVICE_REMOVED: 'Device removed',
  PORTAL_ACCESS_RESET: 'Portal access reset',
  UNIT_STATUS_CHANGED: 'Unit switched on or off',
};

function stateOf(c: ChangeViewFragment): string {
  return c.status === 'APPLIED' ? 'applied' : c.status === 'FAILED' ? 'failed' : 'applying…';
}

function Changes({ changes, users }: { changes: ChangeViewFragment[]; users: User[] }) {
  if (!changes.length) return null;
  const who = (id: string | null | undefined) => users.find((u) => u.id === id);
  return (
    <section class="card" aria-labelledby="changes-title">
      <h2 id="changes-title">Recent changes</h2>
      <p class="muted">Changes reach the Wi-Fi within moments.</p>
      <ul class="changes">
        {changes.map((c) => {
          const u = who(c.userId);
          return (
            <li key={c.id} data-testid={`change-${c.id}`} data-kind={c.kind} data-status={c.status}>
              <span>
                {kindText[c.kind] ?? c.kind}
                {u ? <span class="muted"> · {u.type === 'LINKED' ? u.userName : u.type === 'GUEST' ? 'guest' : 'unit'}</span> : null}
                {c.macAddress ? <span class="muted"> · {c.macAddress}</span> : null}
              </span>
              <span class={`state state-${c.status.toLowerCase()}`}>{stateOf(c)}</span>
              {c.status === 'FAILED' && c.detail ? <span class="detail">{c.detail}</span> : null}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function ContactForm({ ctx }: { ctx: Ctx }) {
  const c = ctx.unit.contact;
  const [form, setForm] = useState({ contactName: c.contactName, email: c.email, phoneNumber: c.phoneNumber });
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (name: keyof typeof form) => (e: Event) => setForm({ ...form, [name]: (e.target as HTMLInputElement).value });
  return (
    <section class="card" aria-labelledby="contact-title">
      <h2 id="contact-title">Contact</h2>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          const err = await ctx.change(async () => {
            const d = await run(SetContactDocument, { propertyId: ctx.propertyId, contact: form }, ctx.token);
            ctx.onUnit(d.updateUnit);
          });
          setBusy(false);
          setMessage(err ? { ok: false, text: err } : { ok: true, text: 'Saved.' });
        }}
      >
        <label class="field">
          Name
          <input type="text" autocomplete="name" maxLength={255} value={form.contactName} onInput={set('contactName')} />
        </label>
        <label class="field">
          E-mail
          <input type="email" autocomplete="email" maxLength={255} value={form.email} onInput={set('email')} />
        </label>
        <label class="field">
          Phone
          <input type="tel" autocomplete="tel" maxLength={16} value={form.phoneNumber} onInput={set('phoneNumber')} />
        </label>
        <button type="submit" disabled={busy}>
          Save contact
        </button>
        {message ? (
          <p class={message.ok ? 'ok' : 'error'} role={message.ok ? 'status' : 'alert'}>
            {message.text}
          </p>
        ) : null}
      </form>
    </section>
  );
}

function SignOut({ ctx }: { ctx: Ctx }) {
  const [message, setMessage] = useState<string | null>(null);
  return (
    <section class="card" aria-labelledby="signout-title">
      <h2 id="signout-title">Sign out everywhere</h2>
      <p class="muted">Signs out every device that has this page open and replaces your portal link. You will need a new link from your property management.</p>
      <button
        type="button"
        class="danger"
        data-testid="sign-out-everywhere"
        onClick={async () => {
          const err = await ctx.change(() => run(SignOutEverywhereDocument, { propertyId: ctx.propertyId }, ctx.token));
          if (err) setMessage(err);
          else ctx.onSignedOut();
        }}
      >
        Sign out everywhere
      </button>
      {message ? (
        <p class="error" role="alert">
          {message}
        </p>
      ) : null}
    </section>
  );
}
