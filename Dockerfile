# ivr-gateway: build with the committed .sqlx/ query cache (no database needed),
# run as an unprivileged user on a slim image.
# The toolchain is pinned to the project's (rust-version in Cargo.toml is the floor).
FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, in a layer of their own: it is rebuilt only when
# Cargo.toml or Cargo.lock change, not on every source edit.
COPY Cargo.toml Cargo.lock build.rs ./
RUN mkdir -p src benches migrations \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && echo 'fn main() {}' > benches/sms_drain.rs \
 && echo 'fn main() {}' > benches/simulator.rs \
 && echo 'fn main() {}' > benches/infobip.rs \
 && cargo build --release --locked --bin ivr-gateway \
 && rm -rf src benches
COPY . .
# The stand-ins above are older than the real sources; make sure cargo sees it.
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked --bin ivr-gateway

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
# The binary asks its own /readyz: the slim image has no curl.
HEALTHCHECK --interval=5s --timeout=6s --start-period=30s --retries=3 CMD ["ivr-gateway", "ready"]
ENTRYPOINT ["ivr-gateway"]
CMD ["serve"]
