import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import { ErrorBoundary } from './views/ErrorBoundary.js';
import './styles.css';

const client = new QueryClient({
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
