#!/bin/sh
# Container entry point.  "web": nginx on :3000 in front of the FastCGI
# pool.  Settings come from the environment (docker-compose.yml).
set -eu
VAR=/app/var
mkdir -p "$VAR/run" "$VAR/log" "$VAR/nginx/tmp"
case "${1:-web}" in
web)
	sed -e "s|@HTTP_PORT@|3000|g" -e "s|@VAR_DIR@|$VAR|g" \
	    -e "s|@FCGI_SOCKET@|$VAR/run/fcgi.sock|g" -e "s|@RELAY_PORT@|${RELAY_PORT:-3001}|g" \
	    -e "s|@MAX_BODY@|${MAX_BODY_BYTES:-1048576}|g" -e "s|@USER@|root|g" \
	    -e "s|listen 127.0.0.1:|listen |" \
	    /app/conf/nginx.conf > "$VAR/nginx/nginx.conf"
	cp /app/conf/fastcgi_params "$VAR/nginx/fastcgi_params"
	FCGI_SOCKET=$VAR/run/fcgi.sock /app/bin/graphql-fcgi &
	while [ ! -S "$VAR/run/fcgi.sock" ]; do sleep 0.1; done
	exec nginx -p "$VAR/nginx" -c "$VAR/nginx/nginx.conf" -e stderr -g 'daemon off;'
	;;
*)
	exec "$@"
	;;
esac
