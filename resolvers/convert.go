package resolvers

import (
	"github.com/residentportal/bff/graph/model"
	"github.com/residentportal/bff/resolvers/loaders"
)

// Conversions between GraphQL inputs and outputs and the domain.

func uiConfiguration(p *model.Property) *model.UIConfiguration {
	return &model.UIConfiguration{
		Access: &model.UIAccess{TenantSetDpsk: p.TenantSetDpsk},
		Text: &model.UIText{Title: p.Title, SubTitle: p.Subtitle, LoginText: p.LoginText,
			Announcements: p.Announcements, HelpText: p.HelpText},
		Color: &model.UIColor{MainColor: p.MainColor, AccentColor: p.AccentColor,
			SeparatorColor: p.SeparatorColor, TextColor: p.TextColor},
		Files: &model.UIFiles{LogoFileName: p.LogoFileName, FavIconFileName: p.FavIconFileName},
	}
}

func unitUpdate(in model.UpdateUnitInput) model.UnitUpdate {
	u := model.UnitUpdate{Description: in.Description, Secret: in.Secret, GuestSecret: in.GuestSecret}
	if in.Contact != nil {
		u.Contact = model.ContactUpdate{ContactName: in.Contact.ContactName, Email: in.Contact.Email, PhoneNumber: in.Contact.PhoneNumber}
	}
	return u
}

func unitUserUpdate(in model.UpdateUnitUserInput) model.UnitUserUpdate {
	u := model.UnitUserUpdate{UserName: in.UserName, Email: in.Email, PhoneNumber: in.PhoneNumber, Passphrase: in.Passphrase}
	if in.Status != nil {
		s := string(*in.Status)
		u.Status = &s
	}
	return u
}

var orderFields = map[model.UnitUserOrderField]model.UserSortField{
	model.UnitUserOrderFieldUserID: model.SortUserID, model.UnitUserOrderFieldUserName: model.SortUserName,
	model.UnitUserOrderFieldEmail: model.SortEmail, model.UnitUserOrderFieldType: model.SortType,
	model.UnitUserOrderFieldStatus: model.SortStatus,
}

// sortValue is a user's value of a sort field, as the keyset compares it.
func sortValue(f model.UserSortField) func(*model.UnitUser) string {
	switch f {
	case model.SortUserName:
		return func(u *model.UnitUser) string { return u.UserName }
	case model.SortEmail:
		return func(u *model.UnitUser) string { return u.Email }
	case model.SortType:
		return func(u *model.UnitUser) string { return string(u.Type) }
	case model.SortStatus:
		return func(u *model.UnitUser) string { return string(u.Status) }
	}
	return nil
}

// userKeysetQuery turns unitUsers' arguments into a keyset query and the
// function that gives each user's cursor value.
func userKeysetQuery(first *int, after *string, orderBy *model.UnitUserOrder, filter *model.UnitUserFilter) (model.UserKeysetQuery, func(*model.UnitUser) string, error) {
	var q model.UserKeysetQuery
	var err error
	if q.Limit, err = loaders.PageSize(first); err != nil {
		return q, nil, err
	}
	c, err := loaders.DecodeCursor(after)
	if err != nil {
		return q, nil, err
	}
	if c != nil {
		q.After = &model.UserCursor{Value: c.Value, ID: c.ID}
	}
	q.Order.Field = model.SortUserID
	if orderBy != nil {
		q.Order.Field = orderFields[orderBy.Field]
		q.Order.Desc = orderBy.Direction != nil && *orderBy.Direction == model.OrderDirectionDesc
	}
	if filter != nil {
		q.Filter = model.UserFilter{UserID: filter.UserID, Type: filter.Type, Status: filter.Status}
	}
	return q, sortValue(q.Order.Field), nil
}

func pointers[T any](s []T) []*T {
	out := make([]*T, len(s))
	for i := range s {
		out[i] = &s[i]
	}
	return out
}
