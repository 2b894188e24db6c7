package handlers

// MaxStreamsPerClient is how many streams one client may hold open.
const MaxStreamsPerClient = maxStreamsPerClient
