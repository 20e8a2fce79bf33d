import Glibc

/// Whether this test process runs under the thread sanitizer (see the AsyncIOTests twin): volume tests
/// shrink their payloads there.
let isThreadSanitized: Bool = dlsym(nil, "__tsan_init") != nil  // nil is RTLD_DEFAULT in glibc
