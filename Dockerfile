# syntax=docker/dockerfile:1
# Build: docker build --build-arg VERSION=$(git describe --always) -t xkcdapp .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/xkcdapp ./cmd/xkcdapp

# distroless/static has CA certificates and time-zone data, and no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/xkcdapp /xkcdapp
USER nonroot:nonroot
ENV ADDR=:8000
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 CMD ["/xkcdapp", "healthcheck"]
ENTRYPOINT ["/xkcdapp"]
CMD ["serve"]
