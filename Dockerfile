# ivr-gateway: build with the committed .sqlx/ query cache (no database needed),
# run as an unprivileged user on a slim image.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin ivr-gateway

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent ivr
COPY --from=build /src/target/release/ivr-gateway /usr/local/bin/ivr-gateway
COPY examples /usr/share/ivr-gateway/examples
USER ivr
ENV IVR_BIND=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["ivr-gateway"]
CMD ["serve"]
