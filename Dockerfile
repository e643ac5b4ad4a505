# Builds a small image that runs Ferry on the embedded store under /data.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/ferry ./cmd/api && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ferry /ferry
# The store's directory belongs to the user Ferry runs as.
COPY --from=build --chown=nonroot:nonroot /out/data /data
VOLUME /data
ENV FERRY_ADDR=0.0.0.0:8080 \
    FERRY_DATA_DIR=/data
EXPOSE 8080
USER nonroot
# Ferry will not serve an open API on a non-loopback address unless told to:
# run with -e FERRY_INSECURE_OPEN=true only on a network you trust.
ENTRYPOINT ["/ferry"]
