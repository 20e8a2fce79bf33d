// zlib (gzip, deflate) and brotli's decoder from the system (apt zlib1g-dev, libbrotli-dev). Only
// AsyncIOHTTP sees them.
#include <zlib.h>
#include <brotli/decode.h>
