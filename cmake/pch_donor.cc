// The translation unit the shared precompiled header is built with (see precompiled_headers.cmake).
