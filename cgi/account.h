/* account: resolvers of tenants and users — createTenant (admin), signUp,
 * login, me. */
#ifndef CGI_ACCOUNT_H
#define CGI_ACCOUNT_H

#include "gql.h"

int account_create_tenant(const struct gql_call *call, json_object **out, struct err *e);
int account_sign_up(const struct gql_call *call, json_object **out, struct err *e);
int account_login(const struct gql_call *call, json_object **out, struct err *e);
int account_me(const struct gql_call *call, json_object **out, struct err *e);

#endif
