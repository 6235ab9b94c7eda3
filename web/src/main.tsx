import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { ApiError } from './api/client.js';
import { keys } from './api/hooks.js';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import { ErrorBoundary } from './views/ErrorBoundary.js';
import './styles.css';

/** A 401 anywhere means the session ended (signed out elsewhere, timed out): ask who we are again, which shows the sign-in page. */
const signedOutOn = (err: unknown) => {
  if (err instanceof ApiError && err.status === 401) void client.invalidateQueries({ queryKey: keys.session });
};

const client: QueryClient = new QueryClient({
  queryCache: new QueryCache({ onError: signedOutOn }),
  mutationCache: new MutationCache({ onError: signedOutOn }),
  defaultOptions: {
    // A 4xx will not get better by asking again; the UI shows it instead.
    queries: { retry: (n, err) => n < 2 && !(err && 'status' in err && Number((err as { status: number }).status) >= 400), refetchOnWindowFocus: true },
  },
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <ErrorBoundary>
      <QueryClientProvider client={client}>
        <App />
      </QueryClientProvider>
    </ErrorBoundary>
  </StrictMode>,
);
