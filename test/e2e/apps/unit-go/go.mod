module example.com/unit-go-app

go 1.19

require unit.nginx.org/go v0.0.0-20250312143000-0123456789ab
