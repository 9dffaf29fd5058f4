package model

import "github.com/google/uuid"

// Parameters and results of the storage operations the service layer calls.

// UnitAuth is what a login or a token check needs to know of a unit.
type UnitAuth struct {
	UnitID          uuid.UUID
	PropertyID      uuid.UUID
	Status          UnitStatus
	TokenGeneration int64
	PortalAllowed   bool
}

// UnitPage asks for a keyset page of a property's units, ordered by number.
type UnitPage struct {
	// AfterNumber is the number of the last unit of the previous page.
	AfterNumber *string
	// Limit is the page size; one more row is read to tell whether more follow.
	Limit int
	// SkipTotal leaves Page.Total at 0 instead of counting the units.
	SkipTotal bool
}

// UnitTree is a unit with the first page of its users and, when asked
// for (TreeQuery), those users' devices (ordered by user, then MAC), a page
// of the unit's change requests and its property.
type UnitTree struct {
	Unit     Unit
	Users    Page[UnitUser]
	Devices  []Device
	Changes  Page[ChangeRequest]
	Property *Property
	Blocked  []BlockedDevice
}

// TreeQuery is what a UnitTree reads below its unit.
type TreeQuery struct {
	Users   UserPage
	Devices bool
	// Changes, when set, is the page of the unit's change requests to read
	// too (as ChangeRequestPages reads it).
	Changes *ChangePage
	// Property reads the unit's property too.
	Property bool
	// Blocked reads the unit's blocked devices too.
	Blocked bool
}

// ChangePage asks for one page of a unit's change requests, newest first:
// those before seq Before (nil: from the newest), of Status when set.
type ChangePage struct {
	Limit     int
	Before    *int64
	Status    *ChangeStatus
	SkipTotal bool
}

// UnitUpdateResult is the outcome of UpdateUnit: the unit as it now is,
// the new portal secret when access was reset, and the change requests made.
type UnitUpdateResult struct {
	Unit         Unit
	PortalSecret string
	Changes      []ChangeRequest
}

// UserPage asks for a keyset page of a unit's users, ordered by id.
type UserPage struct {
	// AfterID is the id of the last user of the previous page.
	AfterID *uuid.UUID
	// Limit is the page size; one more row is read to tell whether more follow.
	Limit int
	// SkipTotal leaves Page.Total at 0 instead of counting the users.
	SkipTotal bool
}

// UserSortField is a column the unit-users query may sort by.
type UserSortField string

// The sortable fields of the unit-users query, named as the vendor API names them.
const (
	SortUserID   UserSortField = "userId"
	SortUserName UserSortField = "userName"
	SortEmail    UserSortField = "email"
	SortType     UserSortField = "type"
	SortStatus   UserSortField = "status"
)

// UserQuery is an offset-paged query of one unit's users.
type UserQuery struct {
	UnitID uuid.UUID
	// UserID filters to one user when set.
	UserID *uuid.UUID
	Sort   []UserSortField
	Desc   bool
	Offset int
	Limit  int
}

// UnitUserUpdateResult is the outcome of UpdateUnitUser: the user as it now
// is and the ids of the change requests made (nil where nothing changed).
type UnitUserUpdateResult struct {
	User            UnitUser
	PersonaUpdateID *uuid.UUID
	DpskUpdateID    *uuid.UUID
}

// Valid reports whether f is a sortable field.
func (f UserSortField) Valid() bool {
	switch f {
	case SortUserID, SortUserName, SortEmail, SortType, SortStatus:
		return true
	}
	return false
}

// Page is one page of a keyset-paginated list.
type Page[T any] struct {
	Items []T
	// HasNext is true when more items follow this page.
	HasNext bool
	// Total is how many items the whole list has.
	Total int
}

// UserFilter narrows a unit's users; nil fields match everything.
type UserFilter struct {
	UserID *uuid.UUID
	Type   *UnitUserType
	Status *UnitUserStatus
}

// UserOrder sorts a unit's users; ties are broken by id in the same direction.
type UserOrder struct {
	Field UserSortField
	Desc  bool
}

// UserCursor is where a keyset page of users starts after: the sort
// field's value (as text) and the id of the last user of the previous page.
type UserCursor struct {
	Value string
	ID    uuid.UUID
}

// UserKeysetQuery asks for one keyset page of a unit's users.
type UserKeysetQuery struct {
	UnitID uuid.UUID
	Filter UserFilter
	Order  UserOrder
	After  *UserCursor
	Limit  int
}
