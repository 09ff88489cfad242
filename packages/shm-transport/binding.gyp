{
  "targets": [
    {
      "target_name": "warden_shm",
      "sources": ["native/shm.cc", "native/process.cc", "native/fd-socket.cc", "native/spawn.cc", "native/users.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra"]
    }
  ]
}
