module warden.dev/test/keyring

go 1.19

require warden.dev/warden v0.0.0

replace warden.dev/warden => ../../../../packages/app-types/go
