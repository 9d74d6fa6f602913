{
  "targets": [
    {
      "target_name": "nsbox",
      "sources": [
        "src-native/addon.cc",
        "src-native/errors.cc",
        "src-native/namespaces.cc",
        "src-native/mounts.cc",
        "src-native/identity.cc",
        "src-native/process.cc",
        "src-native/plan.cc",
        "src-native/child.cc",
        "src-native/probe.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags": ["-Wall", "-Wextra", "-fvisibility=hidden", "-fno-exceptions"],
      "cflags_cc": ["-Wall", "-Wextra", "-fvisibility=hidden", "-fno-exceptions", "-std=c++17"],
      "cflags!": ["-fno-exceptions"],
      "ldflags": ["-Wl,--exclude-libs,ALL"]
    }
  ]
}
