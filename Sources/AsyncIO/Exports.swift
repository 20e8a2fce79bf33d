// AsyncIO's API speaks in AsyncIOSystem's types (SocketAddress, Signal, file modes, Errno): importing
// AsyncIO brings them along, so programs need one import. AsyncIOSystem itself is not a product.
@_exported import AsyncIOSystem
