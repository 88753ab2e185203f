// Anchor translation unit of the torch precompiled header (see TedlocDeps.cmake).
