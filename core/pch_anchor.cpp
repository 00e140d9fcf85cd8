// Compiles the shared precompiled header once; other targets reuse it (REUSE_FROM).
