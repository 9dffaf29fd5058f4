/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
/** What a change request says changed. */
export type ChangeKind =
  /** A device was removed (one request per device). */
  | 'DEVICE_REMOVED'
  /** A unit user's name, e-mail, phone or status changed. */
  | 'IDENTITY_CHANGED'
  /** A unit user came into being (a unit's UNIT and GUEST users, a LINKED user, guest secrets allowed). */
  | 'IDENTITY_CREATED'
  /** A unit user was removed (guest secrets withdrawn). */
  | 'IDENTITY_REMOVED'
  /** A unit user's passphrase changed. */
  | 'PASSPHRASE_CHANGED'
  /** The unit's portal access was reset (notify the resident). */
  | 'PORTAL_ACCESS_RESET'
  /** The unit was disabled or enabled. */
  | 'UNIT_STATUS_CHANGED';

/** Where a change request is in its lifecycle. */
export type ChangeStatus =
  /** The Wi-Fi side applied it. */
  | 'APPLIED'
  /** The Wi-Fi side could not apply it. */
  | 'FAILED'
  /** Written, not yet taken by the broker. */
  | 'PENDING'
  /** The broker has it. */
  | 'PUBLISHED';

/** Changes to a unit's contact; null or absent fields are unchanged. */
export type ContactInput = {
  /** The resident's name. */
  contactName?: string | null | undefined;
  /** The resident's e-mail address (at most 255 characters). */
  email?: string | null | undefined;
  /** The resident's phone number (at most 16 characters). */
  phoneNumber?: string | null | undefined;
};

/** Whether a unit is in service. */
export type UnitStatus =
  /** Out of service: its portal and tokens are refused. */
  | 'DISABLED'
  /** In service. */
  | 'ENABLED';

/** Whether a unit user's passphrase admits devices. */
export type UnitUserStatus =
  /** The passphrase admits devices. */
  | 'ACTIVE'
  /** The passphrase is refused. */
  | 'BLOCKED';

/** Which identity of a unit a user is. */
export type UnitUserType =
  /** The unit's guest identity (one where the property allows a separate guest secret). */
  | 'GUEST'
  /** An extra identity. */
  | 'LINKED'
  /** The unit's own identity (exactly one). */
  | 'UNIT';

export type PortalAccessQueryVariables = Exact<{
  propertyId: string;
}>;


export type PortalAccessQuery = { portalAccess: { portalAllowed: boolean, loginText: string }, uiConfiguration: { access: { tenantSetDpsk: boolean }, text: { title: string, subTitle: string, announcements: string, helpText: string }, color: { mainColor: string, accentColor: string, separatorColor: string, textColor: string }, files: { logoFileName: string, favIconFileName: string } } };

export type BrandingFragment = { access: { tenantSetDpsk: boolean }, text: { title: string, subTitle: string, announcements: string, helpText: string }, color: { mainColor: string, accentColor: string, separatorColor: string, textColor: string }, files: { logoFileName: string, favIconFileName: string } };

export type LogInMutationVariables = Exact<{
  propertyId: string;
  hashedSecret: string;
}>;


export type LogInMutation = { login: { token: string, unitId: string, expiresAt: string } };

export type SetPassphrasesMutationVariables = Exact<{
  propertyId: string;
  secret?: string | null | undefined;
  guestSecret?: string | null | undefined;
}>;


export type SetPassphrasesMutation = { updateUnit: { id: string, number: string, status: UnitStatus, secret: string, guestSecret: string | null, contact: { contactName: string, email: string, phoneNumber: string }, users: { edges: Array<{ node: { id: string, type: UnitUserType, userName: string, status: UnitUserStatus, passphrase: string, devices: Array<{ macAddress: string, displayName: string, osType: string, lastSeen: string | null, online: boolean }> } }> }, blockedDevices: Array<{ macAddress: string, userId: string, blockedAt: string }>, changeRequests: { edges: Array<{ node: { id: string, kind: ChangeKind, status: ChangeStatus, createdAt: string, completedAt: string | null, detail: string | null, userId: string | null, macAddress: string | null } }> } } };

export type SetUserPassphraseMutationVariables = Exact<{
  propertyId: string;
  userId: string;
  passphrase: string;
}>;


export type SetUserPassphraseMutation = { updateUnitUser: { dpskUpdateId: string | null } };

export type SetContactMutationVariables = Exact<{
  propertyId: string;
  contact: ContactInput;
}>;


export type SetContactMutation = { updateUnit: { id: string, number: string, status: UnitStatus, secret: string, guestSecret: string | null, contact: { contactName: string, email: string, phoneNumber: string }, users: { edges: Array<{ node: { id: string, type: UnitUserType, userName: string, status: UnitUserStatus, passphrase: string, devices: Array<{ macAddress: string, displayName: string, osType: string, lastSeen: string | null, online: boolean }> } }> }, blockedDevices: Array<{ macAddress: string, userId: string, blockedAt: string }>, changeRequests: { edges: Array<{ node: { id: string, kind: ChangeKind, status: ChangeStatus, createdAt: string, completedAt: string | null, detail: string | null, userId: string | null, macAddress: string | null } }> } } };

export type RemoveDeviceMutationVariables = Exact<{
  propertyId: string;
  userId: string;
  mac: string;
}>;


export type RemoveDeviceMutation = { removeUnitUserDevice: boolean };

export type AllowDeviceMutationVariables = Exact<{
  propertyId: string;
  userId: string;
  mac: string;
}>;


export type AllowDeviceMutation = { allowUnitUserDevice: boolean };

export type SignOutEverywhereMutationVariables = Exact<{
  propertyId: string;
}>;


export type SignOutEverywhereMutation = { resetPortalAccess: boolean };

export type ResidentUnitQueryVariables = Exact<{
  propertyId: string;
}>;


export type ResidentUnitQuery = { unit: { id: string, number: string, status: UnitStatus, secret: string, guestSecret: string | null, property: { id: string, name: string, ssids: Array<string>, allowSeparateGuestSecret: boolean, maxDevicesPerIdentity: number, uiConfiguration: { access: { tenantSetDpsk: boolean }, text: { title: string, subTitle: string, announcements: string, helpText: string }, color: { mainColor: string, accentColor: string, separatorColor: string, textColor: string }, files: { logoFileName: string, favIconFileName: string } } }, contact: { contactName: string, email: string, phoneNumber: string }, users: { edges: Array<{ node: { id: string, type: UnitUserType, userName: string, status: UnitUserStatus, passphrase: string, devices: Array<{ macAddress: string, displayName: string, osType: string, lastSeen: string | null, online: boolean }> } }> }, blockedDevices: Array<{ macAddress: string, userId: string, blockedAt: string }>, changeRequests: { edges: Array<{ node: { id: string, kind: ChangeKind, status: ChangeStatus, createdAt: string, completedAt: string | null, detail: string | null, userId: string | null, macAddress: string | null } }> } } };

export type UnitViewFragment = { id: string, number: string, status: UnitStatus, secret: string, guestSecret: string | null, contact: { contactName: string, email: string, phoneNumber: string }, users: { edges: Array<{ node: { id: string, type: UnitUserType, userName: string, status: UnitUserStatus, passphrase: string, devices: Array<{ macAddress: string, displayName: string, osType: string, lastSeen: string | null, online: boolean }> } }> }, blockedDevices: Array<{ macAddress: string, userId: string, blockedAt: string }>, changeRequests: { edges: Array<{ node: { id: string, kind: ChangeKind, status: ChangeStatus, createdAt: string, completedAt: string | null, detail: string | null, userId: string | null, macAddress: string | null } }> } };

export type DeviceViewFragment = { macAddress: string, displayName: string, osType: string, lastSeen: string | null, online: boolean };

export type ChangeViewFragment = { id: string, kind: ChangeKind, status: ChangeStatus, createdAt: string, completedAt: string | null, detail: string | null, userId: string | null, macAddress: string | null };

export type UnitUpdatedSubscriptionVariables = Exact<{
  propertyId: string;
}>;


export type UnitUpdatedSubscription = { unitUpdated: { id: string, number: string, status: UnitStatus, secret: string, guestSecret: string | null, contact: { contactName: string, email: string, phoneNumber: string }, users: { edges: Array<{ node: { id: string, type: UnitUserType, userName: string, status: UnitUserStatus, passphrase: string, devices: Array<{ macAddress: string, displayName: string, osType: string, lastSeen: string | null, online: boolean }> } }> }, blockedDevices: Array<{ macAddress: string, userId: string, blockedAt: string }>, changeRequests: { edges: Array<{ node: { id: string, kind: ChangeKind, status: ChangeStatus, createdAt: string, completedAt: string | null, detail: string | null, userId: string | null, macAddress: string | null } }> } } };

export type ChangeRequestUpdatedSubscriptionVariables = Exact<{
  propertyId: string;
}>;


export type ChangeRequestUpdatedSubscription = { changeRequestUpdated: { id: string, kind: ChangeKind, status: ChangeStatus, createdAt: string, completedAt: string | null, detail: string | null, userId: string | null, macAddress: string | null } };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const BrandingFragmentDoc = new TypedDocumentString(`
    fragment Branding on UiConfiguration {
  access {
    tenantSetDpsk
  }
  text {
    title
    subTitle
    announcements
    helpText
  }
  color {
    mainColor
    accentColor
    separatorColor
    textColor
  }
  files {
    logoFileName
    favIconFileName
  }
}
    `, {"fragmentName":"Branding"}) as unknown as TypedDocumentString<BrandingFragment, unknown>;
export const DeviceViewFragmentDoc = new TypedDocumentString(`
    fragment DeviceView on Device {
  macAddress
  displayName
  osType
  lastSeen
  online
}
    `, {"fragmentName":"DeviceView"}) as unknown as TypedDocumentString<DeviceViewFragment, unknown>;
export const ChangeViewFragmentDoc = new TypedDocumentString(`
    fragment ChangeView on ChangeRequest {
  id
  kind
  status
  createdAt
  completedAt
  detail
  userId
  macAddress
}
    `, {"fragmentName":"ChangeView"}) as unknown as TypedDocumentString<ChangeViewFragment, unknown>;
export const UnitViewFragmentDoc = new TypedDocumentString(`
    fragment UnitView on Unit {
  id
  number
  status
  contact {
    contactName
    email
    phoneNumber
  }
  secret
  guestSecret
  users(first: 20) {
    edges {
      node {
        id
        type
        userName
        status
        passphrase
        devices {
          ...DeviceView
        }
      }
    }
  }
  blockedDevices {
    macAddress
    userId
    blockedAt
  }
  changeRequests(first: 5) {
    edges {
      node {
        ...ChangeView
      }
    }
  }
}
    fragment DeviceView on Device {
  macAddress
  displayName
  osType
  lastSeen
  online
}
fragment ChangeView on ChangeRequest {
  id
  kind
  status
  createdAt
  completedAt
  detail
  userId
  macAddress
}`, {"fragmentName":"UnitView"}) as unknown as TypedDocumentString<UnitViewFragment, unknown>;
export const PortalAccessDocument = {"__meta__":{"hash":"sha256:124f2a7e1a3bb0b42e20809916fcf02e079f318ee55c163d58c76bf31f2328b4"}} as unknown as TypedDocumentString<PortalAccessQuery, PortalAccessQueryVariables>;
export const LogInDocument = {"__meta__":{"hash":"sha256:c2677b767b457d9d1057fcf6420eeb9a82e411aa11ef54f1579d50ac3fc37041"}} as unknown as TypedDocumentString<LogInMutation, LogInMutationVariables>;
export const SetPassphrasesDocument = {"__meta__":{"hash":"sha256:dbd8ed90209e62cab543f12a41e132af1984e3c4815cec8c1dd96eae29fd24b0"}} as unknown as TypedDocumentString<SetPassphrasesMutation, SetPassphrasesMutationVariables>;
export const SetUserPassphraseDocument = {"__meta__":{"hash":"sha256:36459e522922d53ad402ca092ca292d528e00911c804da9e9e43efe36a155699"}} as unknown as TypedDocumentString<SetUserPassphraseMutation, SetUserPassphraseMutationVariables>;
export const SetContactDocument = {"__meta__":{"hash":"sha256:30c54f560d02621ac8511bab66b137158f464e85aef878cda4a6898a3f83ad10"}} as unknown as TypedDocumentString<SetContactMutation, SetContactMutationVariables>;
export const RemoveDeviceDocument = {"__meta__":{"hash":"sha256:dd29027696567da1f67a82edc7c2e1930ca6b74c7767add2ad122ba2dce17e61"}} as unknown as TypedDocumentString<RemoveDeviceMutation, RemoveDeviceMutationVariables>;
export const AllowDeviceDocument = {"__meta__":{"hash":"sha256:8e05670b9d85b4c3204485c630e5bf950f8fef3ceddbeb9d349c1b6a4c923121"}} as unknown as TypedDocumentString<AllowDeviceMutation, AllowDeviceMutationVariables>;
export const SignOutEverywhereDocument = {"__meta__":{"hash":"sha256:cf06a484a8eaaca6532142bc1ea61865a715a81af90c247c9d21a563ad175ed5"}} as unknown as TypedDocumentString<SignOutEverywhereMutation, SignOutEverywhereMutationVariables>;
export const ResidentUnitDocument = {"__meta__":{"hash":"sha256:19d5aeec4fcf6f14d44aadc30e081178033662e443284f50248e325de3234de6"}} as unknown as TypedDocumentString<ResidentUnitQuery, ResidentUnitQueryVariables>;
export const UnitUpdatedDocument = {"__meta__":{"hash":"sha256:b5b259b77dc3e52441be3bde4b7cce964ce8430738b372f132b77ed5448969e4"}} as unknown as TypedDocumentString<UnitUpdatedSubscription, UnitUpdatedSubscriptionVariables>;
export const ChangeRequestUpdatedDocument = {"__meta__":{"hash":"sha256:c06ad85d09c84f427105a62cb624c9a4d2806a67049df6ab987503fa4e613060"}} as unknown as TypedDocumentString<ChangeRequestUpdatedSubscription, ChangeRequestUpdatedSubscriptionVariables>;