// Package hook connects package warden to behaviour of package shm that is not part of shm's public API.
package hook

// ReuseStreams is set by package shm. Called with a *shm.Channel or *shm.ChannelSet before its Serve, it tells the channel that the
// Serve handler never uses a stream after it returned (warden.Serve's does not), so that a finished stream's memory
// may serve a later request instead of being left to the collector.
var ReuseStreams func(ch interface{})
