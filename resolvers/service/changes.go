package service

import (
	"context"

	"github.com/google/uuid"
	"github.com/residentportal/bff/graph/model"
)

// Change requests (SPEC §8.2): residents and managers read them; the Wi-Fi
// side, with a manager key, reports their results.

// ChangeRequest returns a change request: of the resident's own unit, or
// any of the property's with a manager key. UNAUTHENTICATED, NOT_FOUND.
func (s *Service) ChangeRequest(ctx context.Context, propertyID, id uuid.UUID) (model.ChangeRequest, error) {
	_, scope, err := s.access(ctx, propertyID)
	if err != nil {
		return model.ChangeRequest{}, err
	}
	return s.store.ChangeRequestByID(ctx, scope, id)
}

// CompleteChangeRequest records the Wi-Fi side's result of a change request
// of the property (see db.CompleteChangeRequest: the same result twice is a
// no-op). UNAUTHENTICATED, FORBIDDEN for a resident, BAD_USER_INPUT,
// NOT_FOUND, CONFLICT.
func (s *Service) CompleteChangeRequest(ctx context.Context, propertyID, id uuid.UUID, result model.ChangeStatus, detail *string) (model.ChangeRequest, error) {
	p, _, err := s.access(ctx, propertyID)
	if err != nil {
		return model.ChangeRequest{}, err
	}
	// SECURITY: only the Wi-Fi side, with a manager key, reports results.
	if p.Kind != model.Manager {
		return model.ChangeRequest{}, model.Errorf(model.CodeForbidden, "reporting a change request's result needs a manager key")
	}
	c, completed, err := s.store.CompleteChangeRequest(ctx, propertyID, id, result, detail)
	if completed && s.completed != nil {
		s.completed(c.Status, c.CompletedAt.Sub(c.CreatedAt))
	}
	return c, err
}
