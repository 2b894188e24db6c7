# syntax=docker/dockerfile:1
# The app as a container image: one static binary on an empty base, with
# CA certificates (the system's, for xkcd and ElastiCache, and Amazon RDS's
# for DATABASE_SSLMODE=verify-full), running as an unprivileged user.
#
#   docker build --build-arg VERSION=$(git describe --always --dirty) -t xkcdapp .
#   docker run -p 8000:8000 xkcdapp
#
# container/dockerfile_test.go checks this file and builds the binary with
# the exact command below.

# The build runs on the builder's own platform and Go cross-compiles for
# the image's (TARGETOS, TARGETARCH): an arm64 image builds on an x86
# machine without emulation, as the final stage runs nothing.
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
COPY . .
ARG VERSION=dev
ARG TARGETOS TARGETARCH
# go build fetches only the modules the binary needs (go mod download would
# fetch the tests' too); the cache mounts keep them between builds.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/xkcdapp ./cmd/xkcdapp

FROM scratch
# Time-zone data is inside the binary (time/tzdata); these are the roots
# TLS needs. The RDS bundle is fetched when the image is built, and kept
# out of /etc/ssl/certs, whose every file Go trusts for every connection:
# it is for DATABASE_SSLROOTCERT alone.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ADD --chmod=0444 https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem /etc/ssl/rds/global-bundle.pem
COPY --from=build /out/xkcdapp /xkcdapp
# nobody's ids, by number: an empty base has no /etc/passwd to name it in.
USER 65534:65534
ENV ADDR=:8000
EXPOSE 8000
# No shell and no curl here: the binary checks its own /healthz.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["/xkcdapp", "healthcheck"]
ENTRYPOINT ["/xkcdapp"]
CMD ["serve"]
