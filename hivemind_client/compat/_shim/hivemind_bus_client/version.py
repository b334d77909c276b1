"""The reference's version constants; these name the API level the mapping follows."""

VERSION_MAJOR = 1
VERSION_MINOR = 2
VERSION_BUILD = 12
VERSION_ALPHA = 1
