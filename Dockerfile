# The streampipe programs (worker, starter, streaming) in one small image.
# Build: docker build -t streampipe .   Run: docker run streampipe worker
FROM golang:1.26 AS build
# The image sets GOTOOLCHAIN=local; auto builds with go.mod's toolchain line (a Go
# release with every known fix) when the image's Go is older.
ENV GOTOOLCHAIN=auto
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/ ./worker ./starter ./streaming/cmd/streaming

# Static binaries on a base with no shell, running as a non-root user.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
USER nonroot:nonroot
