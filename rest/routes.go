package rest

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// Route is one operation of the vendor's REST API. The table below is the
// single description of the surface: the router, the OpenAPI check and the
// security tests are all driven from it.
type Route struct {
	Method      string
	Path        string
	OperationID string
	// Token is true when a unit token is required.
	Token bool
	// handler is the operation's method on api.
	handler func(*api, http.ResponseWriter, *http.Request)
}

// Routes are the 16 operations, in the vendor's order.
var Routes = []Route{
	{http.MethodPost, "/residents/properties/{propertyId}/units/logins", "residentLogin", false, (*api).residentLogin},
	{http.MethodGet, "/residents/properties/{propertyId}/access", "getTenantPortalAccess", false, (*api).getTenantPortalAccess},
	{http.MethodGet, "/residents/properties/{propertyId}/files/favicons", "downloadFavicons", false, (*api).downloadFavicons},
	{http.MethodGet, "/residents/properties/{propertyId}/styles", "getPropertyStyles", false, (*api).getPropertyStyles},
	{http.MethodGet, "/residents/properties/{propertyId}", "residentFetchProperty", true, (*api).residentFetchProperty},
	{http.MethodGet, "/residents/properties/{propertyId}/files/{type}", "residentDownloadPortalFile", false, (*api).residentDownloadPortalFile},
	{http.MethodGet, "/residents/properties/{propertyId}/uiConfigurations", "residentFetchUiConfiguration", false, (*api).residentFetchUiConfiguration},
	{http.MethodGet, "/residents/properties/{propertyId}/units", "residentFetchUnit", true, (*api).residentFetchUnit},
	{http.MethodPut, "/residents/properties/{propertyId}/units", "residentEditUnit", true, (*api).residentEditUnit},
	{http.MethodGet, "/residents/properties/{propertyId}/units/devices", "residentFetchUnitDevices", true, (*api).residentFetchUnitDevices},
	{http.MethodDelete, "/residents/properties/{propertyId}/units/devices/{deviceId}", "residentRemoveDevice", true, (*api).residentRemoveDevice},
	{http.MethodPost, "/residents/properties/{propertyId}/units/users/query", "queryUnitUsers", true, (*api).queryUnitUsers},
	{http.MethodGet, "/residents/properties/{propertyId}/units/users/{userId}", "getUnitUser", true, (*api).getUnitUser},
	{http.MethodPut, "/residents/properties/{propertyId}/units/users/{userId}", "updateUnitUser", true, (*api).updateUnitUser},
	{http.MethodGet, "/residents/properties/{propertyId}/units/users/{userId}/devices", "getUnitUserDevices", true, (*api).getUnitUserDevices},
	{http.MethodDelete, "/residents/properties/{propertyId}/units/users/{userId}/devices/{deviceId}", "removeUnitUserDevice", true, (*api).removeUnitUserDevice},
}

// mount registers every route of the table on r, each behind the
// middlewares given (the rate limiter, the credential).
func (a *api) mount(r chi.Router, perRoute func(Route) []func(http.Handler) http.Handler) {
	for _, rt := range Routes {
		serve := rt.handler
		var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { serve(a, w, r) })
		if perRoute != nil {
			mws := perRoute(rt)
			for i := len(mws) - 1; i >= 0; i-- {
				h = mws[i](h)
			}
		}
		r.Method(rt.Method, rt.Path, h)
	}
}
