# One image for the service's programs (Debian 12, like the development
# machines).  docker-compose.yml runs it next to PostgreSQL, Redis and real
# Kafka (KRaft).
FROM debian:12-slim AS build
WORKDIR /src
COPY . .
RUN apt-get update -qq && DEPS_BUILD_ONLY=1 tools/deps.sh && make clean && make build

FROM debian:12-slim
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	--no-install-recommends nginx-light libfcgi0ldbl libpq5 libjson-c5 libjwt0 \
	librdkafka1 libhiredis0.14 libcurl4 libwebsockets17 libmicrohttpd12 \
	libssl3 libcrypt1 ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /src/bin/ /app/bin/
COPY --from=build /src/sql/ /app/sql/
COPY --from=build /src/nginx.conf /src/conf/ /app/conf/
COPY conf/docker-entrypoint.sh /app/docker-entrypoint.sh
ENV SQL_DIR=/app/sql
EXPOSE 3000
ENTRYPOINT ["/app/docker-entrypoint.sh"]
CMD ["web"]
