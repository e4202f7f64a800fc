//! The GitHub REST client (octocrab underneath); returns our own types, never octocrab models.
