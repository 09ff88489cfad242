module warden.dev/warden

go 1.19
