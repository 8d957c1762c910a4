# coffer's container image: a static binary on distroless, as a non-root
# user, with the data directory as a volume.
#
#   docker build -t coffer .
#   docker run -d -p 127.0.0.1:8200:8200 -v coffer-data:/var/lib/coffer coffer
#
# See README.md, "Running in production", and compose.yaml for PostgreSQL.

# --- build -------------------------------------------------------------
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# CGO off gives a static binary (SQLite is modernc.org/sqlite, pure Go);
# -trimpath keeps the builder's paths out of it. TestStaticBuild builds the
# same way and checks the result is static.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/coffer ./cmd/coffer && \
    mkdir -m 0700 /out/data

# --- run ---------------------------------------------------------------
# distroless/static has no shell and no package manager; :nonroot runs as
# uid/gid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/coffer /usr/local/bin/coffer
COPY --from=build --chown=65532:65532 /out/data /var/lib/coffer
USER 65532:65532
ENV COFFER_DATA=/var/lib/coffer \
    COFFER_LISTEN_ADDR=0.0.0.0:8200
VOLUME /var/lib/coffer
EXPOSE 8200
# The image has no curl: the binary asks its own /readyz. With TLS, set
# COFFER_ADDR=https://127.0.0.1:8200 and COFFER_CACERT for it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["/usr/local/bin/coffer", "health"]
ENTRYPOINT ["/usr/local/bin/coffer"]
CMD ["server"]
