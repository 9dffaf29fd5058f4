package resolvers

import "github.com/residentportal/bff/resolvers/service"

//go:generate go tool gqlgen generate

// Resolver is the root of the GraphQL resolvers and their one dependency:
// the service layer. Resolver bodies are one-liners into the service or a
// per-request dataloader.
type Resolver struct {
	svc *service.Service
}

// NewResolver returns the resolver root over svc.
func NewResolver(svc *service.Service) *Resolver { return &Resolver{svc: svc} }
